"""The simulator's client report (``GET /_sim/clients/report``) as grades, one per credential,
written as the handler's grade is (JSON, JUnit XML, Markdown)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from harness.grading.findings import FORMATS, Evidence, Finding, Grade, html, write_files
from harness.level import Level

TIMEOUT_S = 120.0  # grading is linear in the log: 100,000 requests take seconds


def fetch(
    base_url: str,
    control_token: str | None = None,
    timeout_s: float = TIMEOUT_S,
    level: str = Level.SPEC,
) -> dict[str, Any]:
    headers = {"X-Control-Token": control_token} if control_token else {}
    url = f"{base_url.rstrip('/')}/_sim/clients/report"
    resp = requests.get(url, headers=headers, params={"level": level}, timeout=(5.0, timeout_s))
    resp.raise_for_status()
    report: dict[str, Any] = resp.json()
    return report


def grades(report: dict[str, Any], base_url: str) -> list[Grade]:
    out = []
    for client in report["clients"]:
        findings = [
            Finding(
                rule=item["rule"],
                title=("[server] " if item.get("side") == "server" else "") + item["title"],
                severity=item["severity"],
                passed={"passed": True, "failed": False}.get(item["verdict"]),
                detail=item["detail"],
                fix=item["fix"],
                source=item["source"],
                to_meet=item.get("to_meet", ""),
                evidence=[
                    Evidence(
                        method=ev["method"],
                        url=base_url.rstrip("/") + ev["url"],
                        headers=ev["headers"],
                        body=ev["body"].encode("utf-8", "surrogateescape"),
                        status=ev["status"],
                        answer=_what_was_wrong(ev),
                        error=None,
                    )
                    for ev in item["evidence"]
                ],
            )
            for item in client["findings"]
        ]
        out.append(
            Grade(
                subject=f"API client {client['client']} ({client['api']})",
                target=f"{client['requests']} requests to {base_url}" + _exam(client),
                findings=findings,
            )
        )
    return out


def _exam(client: dict[str, Any]) -> str:
    """What the client met of the exam, where one was given."""
    situations: dict[str, bool] = client.get("situations") or {}
    if not situations:
        return ""
    never = [name for name, met in situations.items() if not met]
    met = len(situations) - len(never)
    return f"; the exam: {met} of {len(situations)} situations met" + (
        f" (never: {', '.join(never)})" if never else ""
    )


def _what_was_wrong(evidence: dict[str, Any]) -> str:
    """The fields a request (or its answer) broke, else the error the server gave."""
    problems = evidence.get("problems", []) + evidence.get("response_problems", [])
    if problems:
        return "; ".join(f"{p['field']} {p['message']}" for p in problems[:5])
    return str(evidence.get("message") or evidence.get("error") or "")


def write(
    all_grades: list[Grade],
    directory: Path,
    stem: str = "client-grade",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """One JSON, one JUnit XML (a suite per client), one Markdown and one HTML page for every
    client (those of ``formats``)."""
    root = ET.Element("testsuites")
    root.extend(grade.junit_suite() for grade in all_grades)
    ET.indent(root)
    as_json = json.dumps([g.as_dict() for g in all_grades], indent=2, ensure_ascii=False)
    texts = {
        "json": (".json", as_json),
        "junit": (".junit.xml", ET.tostring(root, encoding="unicode", xml_declaration=True)),
        "md": (".md", "\n".join(g.markdown() for g in all_grades) or "No client sent a request.\n"),
        "html": (".html", html(all_grades, "Grade of each API client")),
    }
    return write_files(directory, stem, {texts[f][0]: texts[f][1] for f in formats})
