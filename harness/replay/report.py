"""A replay's report, in the formats ``paysim conform`` writes: each exchange a test case of
``pytest-junit.xml`` (failed where the answer differs), then junit.xml, summary.json and
report.html by :func:`harness.report.build_report`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.replay.runner import Outcome
from harness.report import build_report
from harness.report.results import PYTEST_JUNIT, RUN_JSON


def write(
    report: Path,
    outcomes: list[Outcome],
    meta: dict[str, Any],
    secrets: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write the report of ``outcomes`` into ``report``; return the summary."""
    report.mkdir(parents=True, exist_ok=True)
    for stale in ("contract-summary.json", "scenario-summary.json", "claims.json"):
        (report / stale).unlink(missing_ok=True)
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name="replay")
    failed = 0
    for outcome in outcomes:
        rec = outcome.recorded
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"replay.{rec.api}",
            name=rec.title,
            time=f"{outcome.seconds:.3f}",
        )
        if outcome.differs:
            failed += 1
            first = outcome.differences[0]
            failure = ET.SubElement(case, "failure", message=f"{rec.title}: {first}")
            failure.text = "\n".join(
                [*outcome.differences, "request:", outcome.curl, "received:", outcome.answer]
            )
        elif outcome.note:
            ET.SubElement(case, "system-out").text = outcome.note
    suite.set("tests", str(len(outcomes)))
    suite.set("failures", str(failed))
    ET.ElementTree(root).write(report / PYTEST_JUNIT, encoding="utf-8", xml_declaration=True)
    (report / RUN_JSON).write_text(json.dumps(meta, indent=2, ensure_ascii=False), "utf-8")
    return build_report(report, secrets=secrets)
