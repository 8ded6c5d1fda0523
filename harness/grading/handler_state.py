"""The webhook handler checks of what an event does: a duplicate accepted and applied once,
events out of order tolerated and the newest state kept (both judged by the state probe, where
one is given), unknown kinds and fields ignored, bodies that are not events answered below 500."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from harness.grading.delivery import Probe, Sender, accepted, no_5xx
from harness.grading.events import event, main_kind, new_object_id
from harness.grading.findings import Evidence, Finding, rule_finding

OVERSIZED_BYTES = 1024 * 1024


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
        rule_finding(
            "handler.accepts_duplicate",
            "the same event delivered twice is accepted both times",
            "major",
            fmt.source(f"headers/{fmt.event_id_header}"),
            "answer 2xx to a delivery you have already handled (delivery is at least once); "
            "a refusal makes the sender retry it again and again",
        )(both, f"first {first.outcome()}, again {second.outcome()}", [first, second])
    ]
    make = rule_finding(
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
        rule_finding(
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
    make = rule_finding(
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
    obj = main_kind(fmt).partition(".")[0]
    kind = f"{obj}.teleported"
    exchange = sender.send(event(fmt, kind, new_object_id(fmt, kind)))
    out = [
        rule_finding(
            "handler.ignores_unknown_kind",
            "an event kind the handler does not know is accepted and ignored",
            "major",
            "supplement#/events",
            "answer 2xx to kinds you do not handle: new kinds are added without notice, and a "
            "refusal is retried for hours",
        )(accepted(exchange), f"kind {kind}: {exchange.outcome()}", [exchange])
    ]
    body = event(fmt, main_kind(fmt), new_object_id(fmt, main_kind(fmt)), api_version="2027-01-01")
    body[fmt.object_field]["loyalty_points"] = {"earned": 3}
    exchange = sender.send(body)
    out.append(
        rule_finding(
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
    body = event(fmt, main_kind(fmt), new_object_id(fmt, main_kind(fmt)))
    body[fmt.object_field]["description"] = "x" * OVERSIZED_BYTES
    exchange = sender.send(body)
    out = [
        rule_finding(
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
        rule_finding(
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
