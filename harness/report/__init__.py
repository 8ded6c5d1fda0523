"""The run report: one JUnit XML, a JSON summary and a self-contained HTML page.

:func:`build_report` reads a report directory (see :mod:`harness.report.results`) and writes
``junit.xml`` (merged: contract, scenarios, load thresholds), ``summary.json`` and
``report.html`` into it. ``paysim conform``, ``paysim load --report-dir`` and ``paysim report``
call it; :mod:`harness.report.progress` is the pytest plugin behind ``conform``'s progress lines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.masking import Masker
from harness.report.html import render_html
from harness.report.junit import build_junit
from harness.report.results import read_results
from harness.report.summary import build_summary

OUTPUTS = ("junit.xml", "summary.json", "report.html")


def build_report(
    directory: Path,
    *,
    load_dir: Path | None = None,
    gaps: list[dict[str, Any]] | None = None,
    secrets: Mapping[str, str] | None = None,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Write junit.xml, summary.json and report.html for the results in ``directory``.

    ``load_dir``: a load run folder other than ``<directory>/load``; ``gaps``: spec-gap findings
    (:func:`harness.seedgaps.to_json`'s ``findings``); ``secrets``: value -> placeholder, replaced
    in everything written; ``out_dir``: where to write (default ``directory``). Returns the
    summary.
    """
    out = out_dir or directory
    out.mkdir(parents=True, exist_ok=True)
    results = read_results(directory, load_dir, gaps)
    summary = build_summary(results, secrets)
    build_junit(results, directory, Masker(secrets or {}), summary["coverage"]).write(
        out / "junit.xml", encoding="utf-8", xml_declaration=True
    )
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    (out / "report.html").write_text(render_html(summary), encoding="utf-8")
    return summary
