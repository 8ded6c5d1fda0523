"""Finders of what the seeds leave open in behaviour: events, streams, links, errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from harness.seedgaps.documents import (
    BODY_METHODS,
    EVENT_NAME,
    Documents,
    SeedGap,
    collection_of,
    has_body_schema,
    is_secured,
    key_of,
    label_of,
)


def _texts(node: Any, trail: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) of every description, summary and example in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{trail}.{key}" if trail else str(key)
            if key in ("description", "summary") and isinstance(value, str):
                yield here, value
            elif key in ("example", "examples") and not isinstance(value, dict):
                yield here, json.dumps(value, ensure_ascii=False)
            else:
                yield from _texts(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _texts(value, f"{trail}[{i}]")


def _described_events(doc: Documents) -> set[str]:
    """Event kinds the supplement describes (Event.kind enum, events.kinds keys, etc.)."""
    events = doc.supplement.get("events") or {}
    kinds = {
        k.strip() for key in (events.get("kinds") or {}) for k in re.split(r"\s*/\s*", str(key))
    }
    # "qr.created / qr.status_changed / ..." names several kinds in one key
    for schema in (doc.supplement.get("components", {}).get("schemas") or {}).values():
        kind = (
            (schema or {}).get("properties", {}).get("kind", {}) if isinstance(schema, dict) else {}
        )
        kinds |= set(kind.get("enum", []))
    return kinds


def find_undescribed_events(doc: Documents) -> list[SeedGap]:
    """Webhooks/events named in the seed's text with no webhooks, callbacks or event schema."""
    described_in_seed = "webhooks" in doc.seed or '"callbacks"' in json.dumps(doc.seed)
    if described_in_seed:
        return []
    named: dict[str, str] = {}
    for where, text in _texts(doc.seed):
        if "webhook" not in text.lower() and "events" not in where and "event" not in text:
            continue
        for match in EVENT_NAME.finditer(text):
            event = match.group(1) or match.group(2)
            if event.split(".")[0] in (
                "payment",
                "payout",
                "invoice",
                "qr",
                "subscription",
                "refund",
                "webhook",
            ):
                named.setdefault(event, where)
    mentions = [w for w, t in _texts(doc.seed) if "webhook" in t.lower()]
    if not named and not mentions:
        return []
    described = _described_events(doc)
    unknown = sorted(set(named) - described)
    resolutions = [
        r
        for r in (
            doc.supplement_entry("events.body"),
            doc.supplement_entry("events.webhooks"),
            doc.supplement_entry("events.kinds"),
        )
        if r
    ]
    detail = (
        f"webhooks are mentioned in {len(mentions)} places and event kinds named "
        f"({', '.join(sorted(named)) or 'none'}), but the document has no webhooks, "
        "callbacks, event schema, signature or retry rules"
    )
    note = (
        f"named but not in the supplement either: {unknown}"
        if unknown
        else "every named kind is described in the supplement"
    )
    return [
        SeedGap(doc.api, "undescribed_events", "the document", detail, tuple(resolutions), note)
    ]


def find_undescribed_streams(doc: Documents) -> list[SeedGap]:
    """Event-stream responses whose framing and event bodies have no schema."""
    findings = []
    for method, path, op in doc.operations():
        for status, response in (op.get("responses") or {}).items():
            response, _h = doc.resolve(response)
            stream = (response or {}).get("content", {}).get("text/event-stream")
            if stream is None:
                continue
            resolutions = [
                r for r in (doc.supplement_entry("sse"), doc.supplement_entry("events.body")) if r
            ]
            findings.append(
                SeedGap(
                    doc.api,
                    "undescribed_stream",
                    label_of(method, path, op),
                    f"{status} is text/event-stream with schema {stream.get('schema')}: the event "
                    "bodies, ids, resume and heartbeats are described only in prose",
                    tuple(resolutions),
                )
            )
    return findings


def _has_link(
    doc: Documents,
    source: tuple[str, str, dict[str, Any]],
    target: tuple[str, str, dict[str, Any]],
    overlay: bool,
) -> str | None:
    """The dotted path of a link from source to target (seed or links overlay), or None."""
    s_method, s_path, _s_op = source
    t_method, t_path, t_op = target
    ref = "#/paths/" + t_path.replace("~", "~0").replace("/", "~1") + f"/{t_method}"
    tree = doc.links if overlay else doc.seed
    responses = (((tree.get("paths") or {}).get(s_path) or {}).get(s_method) or {}).get(
        "responses"
    ) or {}
    for status, response in responses.items():
        for name, link in ((response or {}).get("links") or {}).items():
            if link.get("operationRef") == ref or (
                t_op.get("operationId") and link.get("operationId") == t_op["operationId"]
            ):
                response = f"{s_method}.responses.{key_of(str(status))}"
                return f"paths.{key_of(s_path)}.{response}.links.{name}"
    return None


def find_missing_links(doc: Documents) -> list[SeedGap]:
    """Operations on an ``{id}`` without a link from where such ids come from."""
    ops = list(doc.operations())
    findings = []
    for target in ops:
        t_method, t_path, t_op = target
        if "{" not in t_path:
            continue
        name = collection_of(t_path).rsplit("/", 1)[-1]
        sources = [o for o in ops if "{" not in o[1] and o[1].rsplit("/", 1)[-1] == name]
        creates = [o for o in sources if o[0] == "post"] or sources
        if not creates:
            continue
        if any(_has_link(doc, s, target, overlay=False) for s in creates):
            continue
        entries = [e for e in (_has_link(doc, s, target, overlay=True) for s in creates) if e]
        resolutions = [r for r in (doc.links_entry(e) for e in entries[:1]) if r]
        chains = doc.supplement_entry("links.chains")
        source_label = " or ".join(f"{m.upper()} {p}" for m, p, _o in creates)
        note = (
            ""
            if resolutions
            else (
                "not in the links overlay: stateful runs reach it only with ids from elsewhere"
                + (
                    " (the supplement's links.chains describes the chain in prose)"
                    if chains and t_path in chains.excerpt
                    else ""
                )
            )
        )
        findings.append(
            SeedGap(
                doc.api,
                "missing_links",
                label_of(t_method, t_path, t_op),
                f"no link from {source_label} (where its ids come from)",
                tuple(resolutions),
                note,
            )
        )
    return findings


def find_security_errors(doc: Documents) -> list[SeedGap]:
    """Security schemes whose refusals are not documented on the operations they guard."""
    schemes = (doc.seed.get("components") or {}).get("securitySchemes") or {}
    secured = [(m, p, op) for m, p, op in doc.operations() if is_secured(doc, op)]
    if not schemes or not secured:
        return []
    findings = []
    documented = {s for _m, _p, op in doc.operations() for s in (op.get("responses") or {})}
    for status in ("401", "403"):
        if status == "403" and "403" not in documented:
            continue  # the API never refuses a known key: nothing to document
        with_body = without_body = 0
        for _m, _p, op in secured:
            response = doc.resolve((op.get("responses") or {}).get(status))[0]
            if isinstance(response, dict):
                if has_body_schema(response):
                    with_body += 1
                else:
                    without_body += 1
        missing = len(secured) - with_body - without_body
        if missing == 0 and without_body == 0:
            continue
        found = doc.supplement_entry(f"global_responses.{status}")
        findings.append(
            SeedGap(
                doc.api,
                "security_errors",
                "security: "
                + ", ".join(
                    f"{n} ({s.get('type')} {s.get('scheme') or s.get('in', '')})".strip()
                    for n, s in schemes.items()
                ),
                f"{status} is documented with a body on {with_body}, "
                f"without one on {without_body}, "
                f"and not at all on {missing} of the {len(secured)} operations it guards",
                (found,) if found else (),
            )
        )
    return findings


def _applies(status: str, method: str, path: str, op: dict[str, Any]) -> bool:
    if status == "404":
        return "{" in path
    if status == "400":
        return method in BODY_METHODS and "requestBody" in op
    return status == "429"


def find_partial_errors(doc: Documents) -> list[SeedGap]:
    """Error statuses documented on some operations they apply to and not on others."""
    findings = []
    ops = list(doc.operations())
    for status in ("400", "404", "429"):
        applicable = [o for o in ops if _applies(status, *o)]
        having = [o for o in applicable if status in (o[2].get("responses") or {})]
        found = doc.supplement_entry(f"global_responses.{status}")
        if len(having) == len(applicable) or not (having or found):
            continue
        lacking = [label_of(*o) for o in applicable if o not in having]
        findings.append(
            SeedGap(
                doc.api,
                "partial_errors",
                f"{status} responses",
                f"documented on {len(having)} of {len(applicable)} operations it applies to; "
                f"missing on {', '.join(lacking[:5])}" + (" …" if len(lacking) > 5 else ""),
                (found,) if found else (),
            )
        )
    return findings
