"""Findings of a grading run and the one report they make: JSON, JUnit XML, Markdown, HTML.

A finding is one rule judged once: its id, severity, verdict (passed, failed, or not exercised:
never shown as passed), what happened, how to fix it (or, not exercised, how to meet the
situation it judges), and the exchanges that show it (as curl commands, secrets masked). Any
text a client or server sent may hold any character: every format gets it escaped.
"""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.masking import HIDDEN, Masker, hidden

FORMATS = ("json", "junit", "md", "html")  # what a grade is written as
TEMPLATES = Path(__file__).resolve().parent / "templates"
MASKED_HEADERS = ("authorization", "x-api-key", "x-control-token")
BODY_SHOWN = 2000
SEVERITIES = ("critical", "major", "minor")
NOT_EXERCISED = "not_exercised"
# what no report format takes as it is: C0 and C1 controls but tab and newline, DEL, and the
# surrogates no UTF-8 file takes, the two non-characters XML 1.0 refuses
UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with every character no report format may hold written as an escape
    (``\\x00``, ``\\ufffe``), so that one control character in a logged body breaks none."""
    return UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text
    )


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~<>&])")


def md_text(text: str) -> str:
    """``text`` as Markdown that shows it and nothing else, on one line: every character
    Markdown (or the HTML it may hold) reads as markup escaped with a backslash, so that no
    value a client or a server sent becomes a link, a table cell or a tag."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", printable(text)).replace("\n", " ")


def fence_for(text: str) -> str:
    """A Markdown code fence longer than any run of backticks in ``text``: what it encloses is
    shown as it is, never read as Markdown or HTML."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    return "`" * max(3, longest + 1)


@dataclass
class Evidence:
    """One request the grader saw or sent, and the answer to it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    answer: str = ""
    elapsed_ms: float | None = None
    error: str | None = None

    def curl(self, secrets: Iterable[str] = ()) -> str:
        """The request as a curl command, with credentials and ``secrets`` masked."""
        parts = ["curl", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.headers.items():
            if name.lower() in MASKED_HEADERS:
                value = HIDDEN
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.body:
            text = self.body[:BODY_SHOWN].decode("utf-8", "replace")
            if len(self.body) > BODY_SHOWN:
                text += f"... ({len(self.body)} bytes)"
            parts += ["--data-binary", shlex.quote(text)]
        return printable(_mask(" ".join(parts), secrets))

    def outcome(self) -> str:
        if self.error:
            return self.error
        took = f" in {self.elapsed_ms:.0f} ms" if self.elapsed_ms is not None else ""
        said = f": {self.answer}" if self.answer else ""
        return f"{self.status}{took}{said}"


def _mask(text: str, secrets: Iterable[str]) -> str:
    return Masker(hidden(secrets)).text(text)


@dataclass
class Finding:
    rule: str
    title: str
    severity: str
    passed: bool | None  # None: not exercised, with the reason in ``detail``
    detail: str
    fix: str
    source: str
    evidence: list[Evidence] = field(default_factory=list)
    to_meet: str = ""  # not exercised: the situation it judges, and how to make it come

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")

    @property
    def verdict(self) -> str:
        return {True: "passed", False: "failed", None: NOT_EXERCISED}[self.passed]

    def as_dict(self, secrets: Iterable[str] = ()) -> dict[str, Any]:
        secrets = list(secrets)
        return {
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "verdict": self.verdict,
            "detail": printable(_mask(self.detail, secrets)),
            "fix": self.fix,
            "source": self.source,
            **({"to_meet": self.to_meet} if self.passed is None and self.to_meet else {}),
            "evidence": [
                {"curl": ex.curl(secrets), "outcome": printable(_mask(ex.outcome(), secrets))}
                for ex in self.evidence
            ],
        }


def rule_finding(
    rule: str, title: str, severity: str, source: str, fix: str
) -> Callable[..., Finding]:
    """One rule's findings: ``rule_finding(...)(passed, detail, evidence)``."""

    def make(passed: bool | None, detail: str, evidence: list[Evidence] | None = None) -> Finding:
        return Finding(rule, title, severity, passed, detail, fix, source, evidence or [])

    return make


@dataclass
class Grade:
    """What a grading run found, and where it wrote its report."""

    subject: str  # "webhook handler" or "API client"
    target: str
    findings: list[Finding]
    secrets: Sequence[str] = ()

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.passed is False]

    @property
    def not_exercised(self) -> list[Finding]:
        """The rules given nothing to judge: the grade is incomplete while any is left."""
        return [f for f in self.findings if f.passed is None]

    @property
    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, NOT_EXERCISED: 0}
        for finding in self.findings:
            out[finding.verdict] += 1
        return out

    @property
    def outcome(self) -> str:
        """failed (a rule broke), incomplete (none broke, some were not exercised), or passed."""
        return "failed" if self.failed else "incomplete" if self.not_exercised else "passed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "target": printable(_mask(self.target, self.secrets)),
            "outcome": self.outcome,
            "counts": self.counts,
            "findings": [f.as_dict(self.secrets) for f in self.findings],
        }

    def junit(self) -> str:
        root = ET.Element("testsuites")
        root.append(self.junit_suite())
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def junit_suite(self) -> ET.Element:
        """The grade as one JUnit test suite: a case per rule; not exercised is skipped."""
        counts = self.counts
        suite = ET.Element(
            "testsuite",
            name=f"grade: {self.subject}",
            tests=str(len(self.findings)),
            failures=str(counts["failed"]),
            skipped=str(counts[NOT_EXERCISED]),
            errors="0",
        )
        for finding in self.findings:
            data = finding.as_dict(self.secrets)
            case = ET.SubElement(
                suite, "testcase", classname=f"grade.{self.subject}", name=finding.rule
            )
            if finding.passed is None:
                ET.SubElement(case, "skipped", message=data["detail"])
            elif finding.passed is False:
                failure = ET.SubElement(
                    case, "failure", message=f"[{finding.severity}] {data['detail']}"
                )
                failure.text = _text_of(data)
        return suite

    def markdown(self) -> str:
        counts = self.counts
        lines = [
            f"# Grade of the {self.subject}: {md_text(_mask(self.target, self.secrets))}",
            "",
            f"{self.outcome.capitalize()}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts[NOT_EXERCISED]} not exercised.",
            "",
            "| rule | severity | verdict | what happened |",
            "| --- | --- | --- | --- |",
        ]
        for finding in self.findings:
            data = finding.as_dict(self.secrets)
            detail = md_text(data["detail"])
            lines.append(f"| {finding.rule} | {finding.severity} | {data['verdict']} | {detail} |")
        if self.not_exercised:
            lines += ["", "## Situations never met", ""]
            lines += [f"- {f.rule}: {md_text(f.to_meet or f.detail)}" for f in self.not_exercised]
        for finding in self.failed:
            lines += [
                "",
                f"## {finding.rule}: {finding.title}",
                "",
                _text_of(finding.as_dict(self.secrets), fenced=True),
            ]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path, stem: str, formats: Sequence[str] = FORMATS) -> list[Path]:
        """``<stem>.json``, ``.junit.xml``, ``.md`` and ``.html`` in ``directory`` (those of
        ``formats``)."""
        texts = {
            "json": (".json", json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"),
            "junit": (".junit.xml", self.junit()),
            "md": (".md", self.markdown()),
            "html": (".html", html([self], f"Grade of the {self.subject}")),
        }
        return write_files(directory, stem, {texts[f][0]: texts[f][1] for f in formats})

    def table(self) -> str:
        """A plain table for the terminal, the failures' fixes after it."""
        width = max((len(f.rule) for f in self.findings), default=10)
        rows = [f"{'rule':<{width}}  verdict  severity  detail"]
        for finding in self.findings:
            detail = printable(_mask(finding.detail, self.secrets)).replace("\n", " ")
            rows.append(
                f"{finding.rule:<{width}}  {finding.verdict:<7}  {finding.severity:<8}  {detail}"
            )
        for finding in self.failed:
            rows += ["", f"{finding.rule}: fix: {finding.fix}"]
        counts = self.counts
        rows += [
            "",
            f"{self.subject}: {self.outcome}: {counts['passed']} passed, {counts['failed']} "
            f"failed, {counts[NOT_EXERCISED]} not exercised",
            printable(_mask(self.target, self.secrets)),
        ]
        return "\n".join(rows)


def _text_of(data: dict[str, Any], fenced: bool = False) -> str:
    """A failure's text; ``fenced``: its evidence in Markdown code fences longer than any run of
    backticks a client's body holds, so that no body is read as Markdown."""
    detail = md_text(data["detail"]) if fenced else data["detail"]  # fenced: Markdown
    lines = [detail, "", f"Fix: {data['fix']}", f"Source: {data['source']}"]
    for item in data["evidence"]:
        shown = f"{item['curl']}\n-> {item['outcome']}"
        if fenced:
            fence = fence_for(shown)
            lines += ["", fence, shown, fence]
        else:
            lines += ["", *("    " + line for line in shown.split("\n"))]
    return "\n".join(lines)


def html(grades: Sequence[Grade], title: str) -> str:
    """One self-contained page (inline CSS, nothing fetched) of every grade, failures first
    explained with their evidence."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, keep_trailing_newline=True
    )
    data = [g.as_dict() for g in grades]
    failed = sum(g["counts"]["failed"] for g in data)
    missing = sum(g["counts"][NOT_EXERCISED] for g in data)
    return env.get_template("grade.html").render(
        title=title, grades=data, failed=failed, missing=missing
    )


def write_files(directory: Path, stem: str, texts: dict[str, str]) -> list[Path]:
    """``{suffix: text}`` as ``<stem><suffix>`` files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in texts.items():
        path = directory / f"{stem}{suffix}"
        path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
        written.append(path)
    return written
