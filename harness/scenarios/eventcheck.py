"""Checks over a set of events, shared by ``expect_webhooks`` and ``expect_events`` (SSE).

Webhook deliveries are attempts: retries of one event carry the same id, so ``kinds`` and
``count`` speak of distinct events and ``attempts`` of deliveries. Deliveries run in parallel,
so arrival order means nothing: ``ordered_by: created_at`` orders the events by a body path
before ``kinds`` and ``includes`` compare (events with equal values in any order).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.apis import FACTS
from harness.scenarios import expect, paths


@dataclasses.dataclass
class Seen:
    """One delivery or SSE event, as the checks see it."""

    id: str | None
    kind: str | None
    body: Any
    raw: str
    signature_valid: bool | None = None
    valid_with_other_secret: bool | None = None
    answered: int | str | None = None  # webhooks: what the receiver answered this attempt


def kind_of(body: Any, headers: dict[str, str] | None = None) -> str | None:
    """The event kind: where an API's body keeps it (freefin ``kind``, Kaspi ``event``) or
    ``type``, else an API's event header or ``X-Event-Type``."""
    formats = [facts.webhooks() for facts in FACTS.values()]
    if isinstance(body, dict):
        for key in (*(f.kind_field for f in formats), "type"):
            if isinstance(body.get(key), str):
                return str(body[key])
    names = {*(f.event_header.lower() for f in formats), "x-event-type"}
    for name, value in (headers or {}).items():
        if name.lower() in names:
            return value
    return None


def _distinct(records: list[Seen]) -> list[Seen]:
    out: list[Seen] = []
    ids: set[str] = set()
    for rec in records:
        if rec.id is None or rec.id not in ids:
            out.append(rec)
            if rec.id is not None:
                ids.add(rec.id)
    return out


def _is_subsequence(wanted: list[str], kinds: list[str | None]) -> bool:
    it = iter(kinds)
    return all(any(k == w for k in it) for w in wanted)


def _ordered(events: list[Seen], path: str) -> tuple[list[Seen], list[str]]:
    """``events`` sorted by the body value at ``path`` (stable: ties keep arrival order), or
    the problems that prevent it."""
    keyed = []
    for rec in events:
        value = paths.get(rec.body, path)
        if value is paths.MISSING or value is None:
            return events, [f"ordered_by: event {rec.kind} {rec.id} has no {path}"]
        keyed.append((value, rec))
    try:
        keyed.sort(key=lambda pair: pair[0])
    except TypeError:
        return events, [f"ordered_by: the events' {path} values cannot be compared"]
    return [rec for _, rec in keyed], []


def _order_problem(events: list[Seen], path: str, wanted: list[str]) -> str | None:
    """Why ``events``, ordered by ``path``, are not the kinds ``wanted``; events with equal
    values may come in any order among themselves."""
    ordered, _ = _ordered(events, path)
    got = [rec.kind for rec in ordered]
    if len(got) != len(wanted):
        return None  # reported by the plain comparison of kinds
    values = [paths.get(rec.body, path) for rec in ordered]
    start = 0
    for end in range(1, len(got) + 1):
        if end == len(got) or values[end] != values[start]:
            if sorted(map(str, got[start:end])) != sorted(wanted[start:end]):
                return (
                    f"kinds: expected {expect.show(wanted)} ordered by {path}, got "
                    f"{expect.show(got)} ({expect.show(values)})"
                )
            start = end
    return None


def summary(records: list[Seen]) -> dict[str, Any]:
    """What ``save:`` paths are read from."""
    events = _distinct(records)
    return {
        "ids": [r.id for r in events],
        "kinds": [r.kind for r in events],
        "bodies": [r.body for r in events],
        "count": len(events),
        "attempts": len(records),
        "delivered": sum(
            1 for r in records if isinstance(r.answered, int) and 200 <= r.answered < 300
        ),
    }


def check(records: list[Seen], spec: dict[str, Any], *, webhooks: bool) -> list[str]:
    """Every way ``records`` (already filtered by ``where``) fail ``spec``; empty if none."""
    events = _distinct(records)
    problems: list[str] = []
    order_by = spec.get("ordered_by")
    if order_by:
        events, problems = _ordered(events, order_by)
    kinds = [r.kind for r in events]
    if "kinds" in spec and order_by:
        if problems:
            pass  # no order to compare
        elif sorted(map(str, kinds)) != sorted(spec["kinds"]):
            problems.append(
                f"kinds: expected {expect.show(spec['kinds'])} ordered by "
                f"{order_by}, got {expect.show(kinds)}"
            )
        else:
            why = _order_problem(events, order_by, spec["kinds"])
            if why:
                problems.append(why)
    elif "kinds" in spec and kinds != spec["kinds"]:
        problems.append(f"kinds: expected {expect.show(spec['kinds'])}, got {expect.show(kinds)}")
    if "kinds_set" in spec and sorted(map(str, kinds)) != sorted(spec["kinds_set"]):
        problems.append(
            f"kinds_set: expected {expect.show(sorted(spec['kinds_set']))} in any "
            f"order, got {expect.show(kinds)}"
        )
    if "includes" in spec and not _is_subsequence(spec["includes"], kinds):
        problems.append(
            f"includes: expected {expect.show(spec['includes'])} in this order "
            f"among {expect.show(kinds)}"
        )
    for kind in spec.get("excludes", []):
        if kind in kinds:
            problems.append(f"excludes: {kind} was received")
    delivered = sum(1 for r in records if isinstance(r.answered, int) and 200 <= r.answered < 300)
    for key, value in (
        ("count", len(events)),
        ("attempts", len(records)),
        ("delivered", delivered),
    ):
        if key in spec:
            why = expect.match(value, spec[key])
            if why:
                problems.append(f"{key}: {why}")
    if spec.get("unique_ids"):
        problems += _unique_id_problems(records, webhooks=webhooks)
    if spec.get("signed"):
        for rec in records:
            if not rec.signature_valid:
                problems.append(
                    f"signed: delivery of {rec.kind} {rec.id} does not verify "
                    "with the configured secret"
                )
                break
            if rec.valid_with_other_secret:
                problems.append(f"signed: delivery {rec.id} also verifies with another secret")
                break
    return problems


def hopeless(records: list[Seen], spec: dict[str, Any], problems: list[str]) -> bool:
    """True when waiting for more events cannot make the failing checks pass."""
    if any(p.startswith(("signed:", "excludes:", "unique_ids:")) for p in problems):
        return True
    kinds = [r.kind for r in _distinct(records)]
    if "kinds" in spec and spec.get("ordered_by"):
        # Arrival order says nothing here, but events only accumulate: once as many came as
        # were expected and the kinds are wrong, more cannot mend them.
        return len(kinds) >= len(spec["kinds"]) and any(p.startswith("kinds:") for p in problems)
    # Events only accumulate: once what came is not a prefix of the expected kinds, it never is.
    return "kinds" in spec and kinds != spec["kinds"][: len(kinds)]


def _unique_id_problems(records: list[Seen], *, webhooks: bool) -> list[str]:
    bodies: dict[str, set[str]] = {}
    for rec in records:
        if rec.id is None:
            return [f"unique_ids: an event ({rec.kind}) has no id"]
        bodies.setdefault(rec.id, set()).add(rec.raw)
    if webhooks:
        # A retry resends the same event under the same id; one id for two events is the fault.
        reused = [i for i, b in bodies.items() if len(b) > 1]
        return [f"unique_ids: event id {reused[0]} used for different events"] if reused else []
    seen: set[str] = set()
    for rec in records:
        if rec.id in seen:
            return [f"unique_ids: event id {rec.id} received twice"]
        seen.add(rec.id)  # type: ignore[arg-type]
    return []


def where(records: list[Seen], spec: dict[str, Any] | None) -> list[Seen]:
    """The records whose bodies match every ``path -> value`` of ``spec``; ``@kind`` is the
    event's kind however the target carries it (body or header), ``@mentions`` a value the
    event's body holds anywhere (an invoice id, whatever the event's shape)."""
    if not spec:
        return records
    kind, mentions = spec.get("@kind"), spec.get("@mentions")
    rest = {k: v for k, v in spec.items() if k not in ("@kind", "@mentions")}
    return [
        r
        for r in records
        if ("@kind" not in spec or expect.match(r.kind, kind) is None)
        and ("@mentions" not in spec or str(mentions) in r.raw)
        and not expect.check_body(r.body, rest)
    ]


def describe(records: list[Seen], limit: int = 12) -> str:
    """What was received, for failure reports."""
    if not records:
        return "(nothing received)"
    lines = []
    for rec in records[-limit:]:
        sig = (
            ""
            if rec.signature_valid is None
            else (" signature ok" if rec.signature_valid else " signature BAD")
        )
        payload = paths.get(rec.body, "payload")
        state = paths.get(payload, "status") if isinstance(payload, dict) else paths.MISSING
        extra = f" status={state}" if state is not paths.MISSING else ""
        lines.append(f"  {rec.kind} id={rec.id}{extra}{sig}")
    more = f"  (+{len(records) - limit} earlier)\n" if len(records) > limit else ""
    return more + "\n".join(lines)
