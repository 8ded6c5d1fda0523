"""The seed-gap report: what the seed documents leave open or contradict, and how it is settled.

Reads each API's seed document (``specs/freefin.openapi.yaml``, ``specs/kaspi.openapi.json``)
and lists findings of these kinds:

- ``no_operation_id``: operations without an operationId (nothing stable to name them by);
- ``no_response_schema``: a documented response without a body schema;
- ``no_request_schema``: a POST/PUT/PATCH with no request body documented;
- ``loose_request_schema``: a request body whose rules the supplement tightens;
- ``enum_mismatch``: a request enum with values the resource's own enum lacks (Kaspi's simulate
  accepts ``failed``; Invoice.status has no ``failed``);
- ``type_mismatch``: a field typed one way in a request and another in the resource;
- ``undescribed_events``: webhooks or events named in the text but never described;
- ``undescribed_stream``: a text/event-stream response whose events have no schema;
- ``missing_links``: an operation on ``{id}`` that no link connects to where ids come from;
- ``security_errors``: a security scheme whose refusals (401/403) are not documented with a
  body on the operations it guards;
- ``partial_errors``: an error status documented on some operations it applies to, not all.

Each finding names how the harness resolves it: the entry of ``specs/<api>.supplement.yaml``
or ``specs/<api>.links.yaml`` that settles it, looked up in those files (so a finding whose
entry is missing is reported as open). ``paysim gaps`` prints them; the run report includes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.seedgaps.behaviour import (
    find_missing_links,
    find_partial_errors,
    find_security_errors,
    find_undescribed_events,
    find_undescribed_streams,
)
from harness.seedgaps.documents import KINDS, SEEDS, SPECS, Documents, Resolution, SeedGap
from harness.seedgaps.schemas import (
    find_enum_mismatches,
    find_loose_request_schemas,
    find_operation_ids,
    find_request_schemas,
    find_response_schemas,
    find_type_mismatches,
)

__all__ = [
    "KINDS",
    "SPECS",
    "Resolution",
    "SeedGap",
    "analyse",
    "analyse_all",
    "render_text",
    "to_json",
]

FINDERS = (
    find_operation_ids,
    find_response_schemas,
    find_request_schemas,
    find_loose_request_schemas,
    find_enum_mismatches,
    find_type_mismatches,
    find_undescribed_events,
    find_undescribed_streams,
    find_missing_links,
    find_security_errors,
    find_partial_errors,
)


def analyse(api: str, specs: Path = SPECS) -> list[SeedGap]:
    """Every finding for one API's seed document."""
    doc = Documents(api, specs)
    return [finding for finder in FINDERS for finding in finder(doc)]


def analyse_all(apis: tuple[str, ...] = ("freefin", "kaspi"), specs: Path = SPECS) -> list[SeedGap]:
    """Every finding for the given APIs, in API then kind order."""
    order = {k: i for i, k in enumerate(KINDS)}
    findings = [f for api in apis for f in analyse(api, specs)]
    return sorted(findings, key=lambda f: (apis.index(f.api), order[f.kind]))


def to_json(findings: list[SeedGap]) -> dict[str, Any]:
    """The findings with counts per API and kind."""
    counts: dict[str, dict[str, int]] = {}
    for f in findings:
        per = counts.setdefault(f.api, {"findings": 0, "open": 0})
        per["findings"] += 1
        per["open"] += 0 if f.resolved else 1
        per[f.kind] = per.get(f.kind, 0) + 1
    return {"counts": counts, "findings": [f.to_json() for f in findings]}


def render_text(findings: list[SeedGap], excerpts: bool = False) -> str:
    """Human-readable report, grouped by API and kind."""
    lines: list[str] = []
    for api in dict.fromkeys(f.api for f in findings):
        mine = [f for f in findings if f.api == api]
        open_ = sum(not f.resolved for f in mine)
        lines.append(f"== {api} ({SEEDS[api]}): {len(mine)} findings, {open_} open")
        for kind in KINDS:
            of_kind = [f for f in mine if f.kind == kind]
            if not of_kind:
                continue
            lines.append(f"\n-- {kind} ({len(of_kind)})")
            for f in of_kind:
                lines.append(f"{'  ' if f.resolved else 'OPEN '}{f.where}: {f.detail}")
                for r in f.resolutions:
                    lines.append(f"      settled by {r.file}: {r.entry}")
                    if excerpts:
                        lines += ["        " + ln for ln in r.excerpt.splitlines()]
                if f.note:
                    lines.append(f"      note: {f.note}")
        lines.append("")
    return "\n".join(lines)
