"""The record of a contract run and its summaries: operation x check, failures with curl, gaps.

Check outcomes and requests arrive through the Schemathesis hooks of
:mod:`harness.contract.hooks`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.grading.findings import fence_for, printable
from harness.masking import Masker

_QUOTED_PLACEHOLDER = re.compile(r"'([^']*\$\{PAYSIM_[A-Z0-9_]+\}[^']*)'")


def _expandable(curl: str) -> str:
    """Single-quoted arguments that hold a ``${PAYSIM_...}`` placeholder double-quoted instead,
    so that the shell puts the secret back when the command is run."""

    def requote(match: re.Match[str]) -> str:
        inner = re.sub(r'(["`\\]|\$(?!\{PAYSIM_))', r"\\\1", match.group(1))
        return f'"{inner}"'

    return _QUOTED_PLACEHOLDER.sub(requote, curl)


@dataclasses.dataclass(frozen=True)
class SpecGap:
    """What the seed leaves open, and the supplement entry that settles it."""

    api: str
    operation: str
    check: str
    observed: str
    entry_path: str
    entry: str


@dataclasses.dataclass
class Tally:
    """Outcomes of one check on one operation."""

    passed: int = 0
    failed: int = 0
    # title -> (message, curl) of the first failure with that title.
    failures: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Report:
    """Everything a contract run observed, for every API it tested."""

    secrets: dict[str, str] = dataclasses.field(default_factory=dict)
    results: dict[tuple[str, str, str], Tally] = dataclasses.field(
        default_factory=lambda: defaultdict(Tally)
    )
    requests: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    server_errors: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    # (api, operation) -> status -> answers: which documented statuses the run saw
    statuses: dict[tuple[str, str], dict[str, int]] = dataclasses.field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    wall_time: dict[str, float] = dataclasses.field(default_factory=lambda: defaultdict(float))
    gaps: dict[tuple[str, str, str], SpecGap] = dataclasses.field(default_factory=dict)
    levels: dict[str, str] = dataclasses.field(default_factory=dict)
    # api -> {check: why nothing in its contract can trigger it}
    not_applicable: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def redact(self, text: str) -> str:
        """Replace the run's credentials by the environment variables that hold them, and mask
        secrets the target hands out in its answers (a webhook endpoint's signing secret)."""
        return Masker(self.secrets, answered=True).text(text)

    def add_result(
        self, api: str, operation: str, check: str, failure: Any, curl: str, answer: str = ""
    ) -> None:
        """Count one check outcome (``failure`` None for a pass); ``answer`` is what came back."""
        tally = self.results[(api, operation, check)]
        if failure is None:
            tally.passed += 1
            return
        tally.failed += 1
        message = failure.message + (f"\nanswer: {answer}" if answer else "")
        tally.failures.setdefault(  # a target's answer may hold any character: XML takes few
            failure.title,
            (printable(self.redact(message)), printable(_expandable(self.redact(curl)))),
        )

    def add_gap(self, gap: SpecGap) -> None:
        """Record a spec gap once per (api, entry, check)."""
        self.gaps.setdefault((gap.api, gap.entry_path, gap.check), gap)

    @property
    def failed(self) -> bool:
        return any(t.failed for t in self.results.values())

    def failed_checks(self, api: str | None = None) -> set[str]:
        """Names of the checks that failed at least once."""
        return {c for (a, _o, c), t in self.results.items() if t.failed and api in (None, a)}

    def render_failures(self, api: str) -> str:
        """The failures recorded so far for ``api``, one block each (empty when none)."""
        blocks = []
        for (a, operation, check), tally in sorted(self.results.items()):
            if a != api:
                continue
            for title, (message, curl) in tally.failures.items():
                shown = "\n".join("    " + line for line in message.splitlines()[:6])
                blocks.append(
                    f"{operation} [{check}] {title} ({tally.failed}x)\n{shown}\n"
                    f"    reproduce: {curl}"
                )
        return "\n".join(blocks)

    def to_json(self) -> dict[str, Any]:
        """A machine-readable summary."""
        apis = sorted({a for a, _o, _c in self.results} | set(self.requests))
        return {
            "apis": {
                api: {
                    "level": self.levels.get(api, ""),
                    "requests": self.requests.get(api, 0),
                    "server_errors": self.server_errors.get(api, 0),
                    "wall_time_s": round(self.wall_time.get(api, 0.0), 2),
                    "failed_checks": sorted(self.failed_checks(api)),
                    "statuses": {
                        o: dict(sorted(counts.items()))
                        for (a, o), counts in sorted(self.statuses.items())
                        if a == api
                    },
                    "not_applicable": dict(sorted(self.not_applicable.get(api, {}).items())),
                    "results": [
                        {
                            "operation": o,
                            "check": c,
                            "passed": t.passed,
                            "failed": t.failed,
                            "failures": [
                                {"title": title, "message": m, "curl": curl}
                                for title, (m, curl) in t.failures.items()
                            ],
                        }
                        for (a, o, c), t in sorted(self.results.items())
                        if a == api
                    ],
                    "spec_gaps": [
                        dataclasses.asdict(g)
                        for (a, _e, _c), g in sorted(self.gaps.items())
                        if a == api
                    ],
                }
                for api in apis
            },
            "failed": self.failed,
        }

    def matrix(self, api: str) -> list[str]:
        """The operation x check table of ``api`` as Markdown: passes, or FAIL with counts."""
        data = self.to_json()["apis"].get(api, {})
        rows = data.get("results", [])
        never = data.get("not_applicable", {})
        checks = sorted({row["check"] for row in rows})
        operations = sorted({row["operation"] for row in rows})
        cell = {(row["operation"], row["check"]): row for row in rows}
        lines = ["| operation | " + " | ".join(checks) + " |", "| --- |" + " --- |" * len(checks)]
        for operation in operations:
            cells = []
            for check in checks:
                row = cell.get((operation, check))
                if check in never and not (row and row["failed"]):
                    cells.append("n/a")
                elif row is None or not (row["passed"] or row["failed"]):
                    cells.append("–")
                elif row["failed"]:
                    cells.append(f"**FAIL** {row['failed']}/{row['passed'] + row['failed']}")
                else:
                    cells.append(f"pass {row['passed']}")
            lines.append(f"| {operation} | " + " | ".join(cells) + " |")
        return lines

    def render(self, full: bool = True) -> str:
        """Human-readable summary; ``full`` adds the operation x check table."""
        lines: list[str] = []
        for api, data in self.to_json()["apis"].items():
            level = f", level {data['level']}" if data.get("level") else ""
            lines.append(
                f"## {api}: {data['requests']} requests, {data['server_errors']} server errors, "
                f"{data['wall_time_s']} s{level}"
            )
            if full:
                lines += [
                    "",
                    "Cells: pass n (answers checked without a failure; Schemathesis's "
                    "built-in checks count the answers they have nothing to say about "
                    "too), FAIL n/m (failed on n of m), – (never applied), n/a (nothing in "
                    "this contract can trigger the check).",
                    "",
                    *self.matrix(api),
                    "",
                    *(
                        f"n/a {check}: {why}"
                        for check, why in data.get("not_applicable", {}).items()
                    ),
                    "",
                    "### Failures",
                    "",
                ]
            for row in data["results"]:
                for failure in row["failures"]:
                    said = [
                        *failure["message"].splitlines()[:8],
                        f"reproduce: {failure['curl']}",
                    ]
                    lines.append(f"FAIL {row['operation']} [{row['check']}] {failure['title']}")
                    if full:  # Markdown: what the target answered, shown as it is
                        fence = fence_for("\n".join(said))
                        lines += ["", fence, *said, fence, ""]
                    else:
                        lines += ["    " + ln for ln in said]
            if full and not data["failed_checks"]:
                lines.append("none")
            if data["spec_gaps"]:
                if full:
                    lines += ["", "### Spec gaps", ""]
                lines.append(
                    f"{len(data['spec_gaps'])} spec gaps (not failures; "
                    "settled by the supplement at --contract-level strict):"
                )
                for gap in data["spec_gaps"]:
                    lines += [
                        f"GAP {gap['operation']} [{gap['check']}] {gap['observed']}",
                        f"    settled by {gap['entry_path']}:",
                        *("      " + ln for ln in gap["entry"].splitlines()[:12]),
                    ]
            lines.append("")
        return "\n".join(lines)

    def junit(self) -> ET.ElementTree:
        """JUnit XML with one test case per API x operation x check (a failure per failed one,
        carrying its message and curl); the spec gaps observed go in a suite of their own
        (``contract.<api>.spec_gaps``) as passed cases with a ``spec_gap`` property: they are
        observations, not failures, and never skips (a skip means "not run")."""
        suites = ET.Element("testsuites", name="paysim contract")
        for api, data in self.to_json()["apis"].items():
            suite = ET.SubElement(suites, "testsuite", name=f"contract.{api}")
            counts = {"tests": 0, "failures": 0, "skipped": 0}
            for row in data["results"]:
                counts["tests"] += 1
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=f"contract.{api}.{row['check']}",
                    name=row["operation"],
                )
                if row["failed"]:
                    counts["failures"] += 1
                    text = "\n\n".join(
                        f"{f['title']}\n{f['message']}\nreproduce: {f['curl']}"
                        for f in row["failures"]
                    )
                    failure = ET.SubElement(
                        case,
                        "failure",
                        message=f"{row['failed']} failed of {row['passed'] + row['failed']}",
                    )
                    failure.text = text
            suite.attrib.update(
                {k: str(v) for k, v in counts.items()}, time=str(data["wall_time_s"])
            )
            if data["spec_gaps"]:
                gaps = ET.SubElement(
                    suites,
                    "testsuite",
                    name=f"contract.{api}.spec_gaps",
                    tests=str(len(data["spec_gaps"])),
                    failures="0",
                    skipped="0",
                    time="0",
                )
                for gap in data["spec_gaps"]:
                    case = ET.SubElement(
                        gaps,
                        "testcase",
                        classname=f"contract.{api}.spec_gap",
                        name=f"{gap['operation']} [{gap['check']}]",
                    )
                    props = ET.SubElement(case, "properties")
                    ET.SubElement(props, "property", name="spec_gap", value=gap["observed"])
                    ET.SubElement(props, "property", name="settled_by", value=gap["entry_path"])
                    out = ET.SubElement(case, "system-out")
                    out.text = f"settled by {gap['entry_path']}:\n{gap['entry']}"
        ET.indent(suites)
        return ET.ElementTree(suites)

    def write(self, directory: Path) -> None:
        """contract-summary.md, contract-summary.json and contract-junit.xml in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "contract-summary.md").write_text(
            "# Contract run\n\n" + self.render(full=True), encoding="utf-8"
        )
        (directory / "contract-summary.json").write_text(
            json.dumps(self.to_json(), indent=2, ensure_ascii=False), encoding="utf-8"
        )
        self.junit().write(directory / "contract-junit.xml", encoding="utf-8", xml_declaration=True)
