"""The webhook handler suite: a partner's handler is sent the events each API sends, signed as
the API signs them, and its answers are judged.

The event format (body, headers, signature) is the supplement's (``events.webhooks``): the seeds
say only that webhooks are signed with HMAC-SHA256. A state probe, where the partner gives one,
says what the handler made of an event: ``GET <state-url>?event_id=&object_id=`` (or the
command with those two arguments) answers ``{"applied": <times the event took effect>,
"status": <the object's status as the handler knows it>, "refunded": <the total refunded it
holds for the object, optional>}``; 501 or exit 69 means it cannot say.

Only ``accepts_valid`` judges time: every other rule judges what the answer was, however late,
so a slow handler fails that one rule (with its timings) and is graded on the rest.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from harness.apis.facts import WebhookFormat
from harness.grading.delivery import (
    HandlerTarget,
    Probe,
    Sender,
    Unreachable,
    accepted,
    no_5xx,
    ok,
    refused,
)
from harness.grading.events import event, formats, new_object_id
from harness.grading.findings import Evidence, Finding, Grade

OVERSIZED_BYTES = 1024 * 1024
__all__ = ["HandlerTarget", "Unreachable", "grade"]


# -- the checks -------------------------------------------------------------------------------

Check = Callable[[Sender, Probe], list[Finding]]


def _finding(rule: str, title: str, severity: str, source: str, fix: str) -> Callable[..., Finding]:
    def make(passed: bool | None, detail: str, evidence: list[Evidence] | None = None) -> Finding:
        return Finding(rule, title, severity, passed, detail, fix, source, evidence or [])

    return make


def _main_kind(fmt: WebhookFormat) -> str:
    return fmt.kinds[0]  # payment.created / invoice.created


def check_valid(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    make = _finding(
        "handler.accepts_valid",
        "every event kind, validly signed, is accepted in time",
        "critical",
        fmt.source("success"),
        f"answer 2xx within {sender.timeout_s:g} s to every signed event; do slow work after "
        "answering (a queue), since a late answer counts as a failure and is sent again",
    )
    bad, times = [], []
    for kind in fmt.kinds:
        exchange = sender.send(event(fmt, kind, new_object_id(fmt, kind)))
        times.append(exchange.elapsed_ms or 0)
        if not ok(exchange, sender.timeout_s):
            bad.append((kind, exchange))
    timing = f"slowest {max(times):.0f} ms, median {sorted(times)[len(times) // 2]:.0f} ms"
    if not bad:
        return [
            make(
                True,
                f"{len(fmt.kinds)} kinds accepted, each within {sender.timeout_s:g} s ({timing})",
            )
        ]
    names = ", ".join(f"{kind} ({ex.outcome()})" for kind, ex in bad[:5])
    return [
        make(
            False,
            f"{len(bad)} of {len(fmt.kinds)} kinds not accepted within {sender.timeout_s:g} s "
            f"({timing}): {names}",
            [ex for _, ex in bad[:3]],
        )
    ]


# The byte forms a valid event may come in, each signed over its own bytes.
BYTE_FORMS: tuple[tuple[str, Callable[[dict[str, Any]], bytes]], ...] = (
    ("indented by 2", lambda b: json.dumps(b, indent=2, ensure_ascii=False).encode()),
    ("with spaces after , and :", lambda b: json.dumps(b, ensure_ascii=False).encode()),
    ("non-ASCII escaped", lambda b: json.dumps(b, separators=(",", ":")).encode()),
    (
        "keys in reverse order",
        lambda b: json.dumps(
            {k: b[k] for k in reversed(list(b))}, separators=(",", ":"), ensure_ascii=False
        ).encode(),
    ),
    (
        "with a trailing newline",
        lambda b: json.dumps(b, separators=(",", ":"), ensure_ascii=False).encode() + b"\n",
    ),
)


def check_byte_forms(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    kind = _main_kind(fmt)
    make = _finding(
        "handler.verifies_raw_bytes",
        "a valid event in any byte form (spacing, escaping, key order, a trailing newline) is "
        "accepted: the signature is checked over the bytes received",
        "critical",
        fmt.source(f"headers/{fmt.signature_header}"),
        "compute the HMAC over the request body exactly as received, before parsing it; a "
        "re-serialisation of the parsed JSON is other bytes, and a valid event is refused",
    )
    refused_forms = []
    for name, render in BYTE_FORMS:
        body = event(fmt, kind, new_object_id(fmt, kind))
        body[fmt.object_field]["description"] = "Чай ☕ «grader»"
        raw = render(body)
        exchange = sender.post(raw, sender.headers(body, raw, sender.target.secret))
        if not accepted(exchange):
            refused_forms.append((name, exchange))
    if not refused_forms:
        return [make(True, f"{len(BYTE_FORMS)} byte forms of one valid event, each accepted")]
    return [
        make(
            False,
            f"{len(refused_forms)} of {len(BYTE_FORMS)} byte forms refused: "
            + ", ".join(f"{name} ({ex.outcome()})" for name, ex in refused_forms),
            [ex for _, ex in refused_forms[:3]],
        )
    ]


def check_signatures(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    header = fmt.signature_header
    source = fmt.source(f"headers/{header}")
    kind = _main_kind(fmt)
    out = []

    body = event(fmt, kind, new_object_id(fmt, kind))
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = sender.headers(body, raw, sender.target.secret)
    tampered = raw.replace(b'"created_at":"', b'"created_at":"1', 1)
    if tampered == raw:
        tampered = raw[:-1] + b" }"
    exchange = sender.post(tampered, headers)
    out.append(
        _finding(
            "handler.refuses_tampered_body",
            "a body that is not the one signed is refused",
            "critical",
            source,
            f"compute the HMAC over the raw request bytes as received and compare it with "
            f"{header} in constant time before parsing",
        )(refused(exchange), f"a signature of another body: {exchange.outcome()}", [exchange])
    )

    exchange = sender.send(event(fmt, kind, new_object_id(fmt, kind)), secret="not-the-secret")
    out.append(
        _finding(
            "handler.refuses_wrong_secret",
            "a body signed with another secret is refused",
            "critical",
            source,
            "verify with your endpoint's own signing secret; refuse on mismatch",
        )(refused(exchange), f"signed with another secret: {exchange.outcome()}", [exchange])
    )

    exchange = sender.send(event(fmt, kind, new_object_id(fmt, kind)), secret=None)
    out.append(
        _finding(
            "handler.refuses_missing_signature",
            f"an event without {header} is refused",
            "critical",
            source,
            f"refuse a request that has no {header}",
        )(refused(exchange), f"no {header}: {exchange.outcome()}", [exchange])
    )

    taken = []
    for value in (
        "",
        fmt.prefix,
        fmt.prefix + "z" * 64,
        "md5=0cc175b9c0f1b6a831c399e269772661",
        "not a signature",
    ):
        body = event(fmt, kind, new_object_id(fmt, kind))
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = sender.headers(body, raw, None)
        headers[header] = value
        exchange = sender.post(raw, headers)
        if not refused(exchange):
            taken.append(exchange)
    out.append(
        _finding(
            "handler.refuses_malformed_signature",
            "a malformed signature is refused",
            "critical",
            source,
            f"accept only {fmt.prefix}<64 lower-case hex digits> that matches; anything else is "
            "a refusal, never a pass",
        )(
            not taken,
            "5 malformed values refused"
            if not taken
            else f"{len(taken)} of 5 malformed values accepted: "
            + ", ".join(repr(ex.headers.get(header)) for ex in taken),
            taken[:2],
        )
    )
    return out


def _same_amount(held: Any, sent: Any) -> bool:
    try:
        return Decimal(str(held)) == Decimal(str(sent))
    except (InvalidOperation, ValueError):
        return False


def check_duplicates(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    kind, amount_field = fmt.refund
    object_id = new_object_id(fmt, kind)
    body = event(fmt, kind, object_id)
    first, second = sender.send(body), sender.send(body)
    both = accepted(first) and accepted(second)
    out = [
        _finding(
            "handler.accepts_duplicate",
            "the same event delivered twice is accepted both times",
            "major",
            fmt.source(f"headers/{fmt.event_id_header}"),
            "answer 2xx to a delivery you have already handled (delivery is at least once); "
            "a refusal makes the sender retry it again and again",
        )(both, f"first {first.outcome()}, again {second.outcome()}", [first, second])
    ]
    make = _finding(
        "handler.applies_once",
        "an event delivered twice takes effect once (a refund delivered twice is booked once)",
        "critical",
        fmt.source(f"headers/{fmt.event_id_header}"),
        f"record each {fmt.event_id_header} (or the body's id) you applied, in the same "
        "transaction as its effect (the refund booked), and skip one seen before",
    )
    refunded = body[fmt.object_field][amount_field]
    out.append(
        _state_finding(
            make,
            probe,
            body["id"],
            object_id,
            lambda s: (
                s.get("applied") == 1
                and ("refunded" not in s or _same_amount(s["refunded"], refunded))
            ),
            "a refund of " + str(refunded) + " delivered twice: applied {applied} times, "
            "the refunded total held {refunded}",
            [first, second],
        )
    )
    return out


def check_order(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    first_kind, last_kind = fmt.first_and_final
    object_id = new_object_id(fmt, first_kind)
    now = datetime.now(UTC)
    early = event(fmt, first_kind, object_id, at=now - timedelta(seconds=2))
    late = event(fmt, last_kind, object_id, at=now)
    second_ex = sender.send(late)
    first_ex = sender.send(early)
    both = accepted(first_ex) and accepted(second_ex)
    out = [
        _finding(
            "handler.tolerates_out_of_order",
            "events that arrive out of order are accepted",
            "major",
            fmt.ordering_source,
            "deliveries run in parallel: accept an event whatever arrived before it",
        )(
            both,
            f"{last_kind} first: {second_ex.outcome()}; then {first_kind}: {first_ex.outcome()}",
            [second_ex, first_ex],
        )
    ]
    final = late[fmt.object_field]["status"]
    make = _finding(
        "handler.keeps_latest_state",
        "an older event arriving late does not undo a newer one",
        "critical",
        fmt.ordering_source,
        "order by the event's created_at (or the object's own updated_at), not by arrival: "
        "ignore a change older than the state you hold",
    )
    out.append(
        _state_finding(
            make,
            probe,
            early["id"],
            object_id,
            lambda s: s.get("status") == final,
            "the handler holds status {status}, expected " + final,
            [second_ex, first_ex],
        )
    )
    return out


def _state_finding(
    make: Callable[..., Finding],
    probe: Probe,
    event_id: str,
    object_id: str,
    holds: Callable[[dict[str, Any]], bool],
    shown: str,
    evidence: list[Evidence],
) -> Finding:
    if not probe.given:
        return make(None, "no state probe given (--state-url or --state-command)")
    try:
        state = probe.ask(event_id, object_id)
    except (requests.RequestException, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        return make(False, f"the state probe failed: {exc}", evidence)
    if state is None:
        return make(None, "the state probe cannot tell (501 / exit 69)")
    detail = shown.format_map(_Missing(state))
    return make(holds(state), detail, evidence)


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return f"<no {key}>"


def check_unknown(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    obj = _main_kind(fmt).partition(".")[0]
    kind = f"{obj}.teleported"
    exchange = sender.send(event(fmt, kind, new_object_id(fmt, kind)))
    out = [
        _finding(
            "handler.ignores_unknown_kind",
            "an event kind the handler does not know is accepted and ignored",
            "major",
            "supplement#/events",
            "answer 2xx to kinds you do not handle: new kinds are added without notice, and a "
            "refusal is retried for hours",
        )(accepted(exchange), f"kind {kind}: {exchange.outcome()}", [exchange])
    ]
    body = event(
        fmt, _main_kind(fmt), new_object_id(fmt, _main_kind(fmt)), api_version="2027-01-01"
    )
    body[fmt.object_field]["loyalty_points"] = {"earned": 3}
    exchange = sender.send(body)
    out.append(
        _finding(
            "handler.tolerates_new_fields",
            "fields the handler does not know are ignored",
            "minor",
            "http: a JSON object may gain members (additionalProperties is not false)",
            "read the fields you need and ignore the rest; do not validate events strictly",
        )(accepted(exchange), f"two new fields: {exchange.outcome()}", [exchange])
    )
    return out


def check_bad_payloads(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    body = event(fmt, _main_kind(fmt), new_object_id(fmt, _main_kind(fmt)))
    body[fmt.object_field]["description"] = "x" * OVERSIZED_BYTES
    exchange = sender.send(body)
    out = [
        _finding(
            "handler.survives_oversized",
            "a body of 1 MiB gets an answer below 500",
            "major",
            "http: RFC 9110 15.5.14 (413 Content Too Large)",
            "bound the body you read (413 above your limit) instead of failing on it",
        )(no_5xx(exchange), f"{len(exchange.body)} bytes: {exchange.outcome()}", [exchange])
    ]
    failing = []
    for raw in (
        b"{not json",
        b"[]",
        b"null",
        b"",
        json.dumps({"id": 5, fmt.kind_field: None, fmt.object_field: "nothing"}).encode(),
    ):
        headers = sender.headers(None, raw, sender.target.secret)
        exchange = sender.post(raw, headers)
        if not no_5xx(exchange):
            failing.append(exchange)
    out.append(
        _finding(
            "handler.survives_malformed",
            "a signed body that is not an event gets an answer below 500",
            "major",
            "http: RFC 9110 15.5.1 (400 Bad Request)",
            "answer 400 to a body you cannot read as an event; never let parsing raise",
        )(
            not failing,
            "5 malformed bodies answered below 500"
            if not failing
            else f"{len(failing)} of 5 malformed bodies answered 5xx or nothing: "
            + ", ".join(f"{ex.body[:20]!r} -> {ex.outcome()}" for ex in failing),
            failing[:2],
        )
    )
    return out


CHECKS: tuple[Check, ...] = (
    check_valid,
    check_byte_forms,
    check_signatures,
    check_duplicates,
    check_order,
    check_unknown,
    check_bad_payloads,
)


def grade(target: HandlerTarget, fmt: WebhookFormat | None = None) -> Grade:
    """Every check against the handler; Unreachable when it cannot be connected to at all (a
    handler too slow to answer is graded: accepts_valid fails with its timings)."""
    fmt = fmt or formats()[target.api]
    sender = Sender(target, fmt)
    findings: list[Finding] = []
    try:
        hello = sender.send(event(fmt, _main_kind(fmt), new_object_id(fmt, _main_kind(fmt))))
        if hello.status is None and sender.unreachable:
            raise Unreachable(f"{target.url}: {hello.error}")
        probe = Probe(target)
        for check in CHECKS:
            findings.extend(check(sender, probe))
    finally:
        sender.close()
    return Grade(
        subject="webhook handler",
        target=f"{target.url} ({target.api})",
        findings=findings,
        secrets=[target.secret],
    )
