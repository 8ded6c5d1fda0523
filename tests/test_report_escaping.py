"""What a client or a target sent is shown as it is in every report format, never read as
markup: Markdown (grades and the contract summary), JUnit XML and HTML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

from harness.contract.record import Report
from harness.grading.findings import Evidence, Finding, Grade, html

HOSTILE = "<script>alert(1)</script> | [click](javascript:alert(1)) *bold* `tick` a\x00b\x1b"


def _outside_fences(markdown: str) -> str:
    """The Markdown read as Markdown: without what its code fences enclose."""
    kept, fence = [], None
    for line in markdown.splitlines():
        run = re.match(r"^(`{3,})", line)
        if fence is None and run:
            fence = run[1]
        elif fence is not None and line.startswith(fence):
            fence = None
        elif fence is None:
            kept.append(line)
    return "\n".join(kept)


def _grade() -> Grade:
    exchange = Evidence("POST", "http://t/pay", {}, HOSTILE.encode(), 400, HOSTILE)
    finding = Finding(
        "client.money", "money", "major", False, f"sent {HOSTILE}", "fix it", "seed", [exchange]
    )
    missing = Finding("client.retry", "retry", "minor", None, f"never {HOSTILE}", "", "seed")
    return Grade("API client", f"http://t/{HOSTILE}", [finding, missing])


def test_a_grade_in_markdown_shows_what_a_client_sent_and_no_markup() -> None:
    markdown = _grade().markdown()
    read = _outside_fences(markdown)
    assert "\x00" not in markdown
    for markup in ["<script", "](javascript", "`tick", "*bold"]:  # unless escaped
        assert not re.search(r"(?<!\\)" + re.escape(markup), read), markup
    row = next(line for line in read.splitlines() if line.startswith("| client.money"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 5  # the four cells' own pipes, no more
    assert r"\<script\>" in row


def test_a_grade_in_junit_and_html_escapes_what_a_client_sent() -> None:
    grade = _grade()
    root = ET.fromstring(grade.junit())
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "<script>" in (failure.get("message") or "")
    page = html([grade], "grade")
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_the_contract_summary_and_junit_hold_any_answer(tmp_path: Path) -> None:
    report = Report()
    failure = SimpleNamespace(title="Server error", message=f"the target said {HOSTILE}")
    report.add_result(
        "freefin", "GET /p/{id}", "not_a_server_error", failure, "curl http://t/p/1", HOSTILE
    )
    report.write(tmp_path)
    failed = ET.parse(tmp_path / "contract-junit.xml").getroot().find(".//failure")
    assert failed is not None and "<script>alert(1)</script>" in (failed.text or "")
    summary = (tmp_path / "contract-summary.md").read_text("utf-8")
    assert "<script" not in _outside_fences(summary) and "<script" in summary
