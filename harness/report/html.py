"""The self-contained HTML report: one file, inline CSS and SVG, nothing fetched to open it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2

from harness.promises import Why
from harness.report.charts import load_charts

TEMPLATES = Path(__file__).resolve().parent / "templates"


def matrices(contract: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per API: its operations, checks and (operation, check) -> counts, for the matrix."""
    out = {}
    for api, data in contract.items():
        cells = {}
        for row in data.get("results", []):
            total = row["passed"] + row["failed"]
            if total:
                cells[(row["operation"], row["check"])] = {
                    "passed": row["passed"],
                    "failed": row["failed"],
                    "total": total,
                }
        never = dict(data.get("not_applicable") or {})
        out[api] = {
            "not_applicable": never,
            "level": data.get("level", ""),
            "requests": data.get("requests", 0),
            "server_errors": data.get("server_errors", 0),
            "wall_time_s": data.get("wall_time_s", 0),
            "checks": sorted({check for _op, check in cells} | set(never)),
            "operations": sorted({op for op, _check in cells}),
            "cells": cells,
        }
    return out


def _gap_groups(
    findings: list[dict[str, Any]],
) -> tuple[dict[str, dict[str, list[Any]]], dict[str, dict[str, int]]]:
    groups: dict[str, dict[str, list[Any]]] = {}
    counts: dict[str, dict[str, int]] = {}
    for finding in findings:
        groups.setdefault(finding["api"], {}).setdefault(finding["kind"], []).append(finding)
        count = counts.setdefault(finding["api"], {"findings": 0, "open": 0})
        count["findings"] += 1
        count["open"] += 0 if finding.get("resolved") else 1
    return groups, counts


def render_html(summary: dict[str, Any]) -> str:
    """The report page for a run summary (see :mod:`harness.report.summary`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    load = summary.get("load") or {}
    gaps, gap_counts = _gap_groups(summary.get("spec_gaps", {}).get("findings", []))
    return env.get_template("report.html").render(
        s=summary,
        matrices=matrices(summary.get("contract", {})),
        charts=(
            load_charts(load.get("history", []), load.get("windows", []), load.get("observed"))
            if load
            else {}
        ),
        gaps=gaps,
        gap_counts=gap_counts,
        reasons={why.name: why.value for why in Why},
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )
