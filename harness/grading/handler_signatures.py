"""The webhook handler checks of what arrives: every event kind, validly signed, accepted in
time; the signature checked over the bytes received, whatever their form; a body or signature
that is not the one signed refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from harness.grading.delivery import Probe, Sender, accepted, ok, refused
from harness.grading.events import event, main_kind, new_object_id
from harness.grading.findings import Finding, rule_finding


def check_valid(sender: Sender, probe: Probe) -> list[Finding]:
    fmt = sender.fmt
    make = rule_finding(
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
    kind = main_kind(fmt)
    make = rule_finding(
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
    kind = main_kind(fmt)
    out = []

    body = event(fmt, kind, new_object_id(fmt, kind))
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = sender.headers(body, raw, sender.target.secret)
    tampered = raw.replace(b'"created_at":"', b'"created_at":"1', 1)
    if tampered == raw:
        tampered = raw[:-1] + b" }"
    exchange = sender.post(tampered, headers)
    out.append(
        rule_finding(
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
        rule_finding(
            "handler.refuses_wrong_secret",
            "a body signed with another secret is refused",
            "critical",
            source,
            "verify with your endpoint's own signing secret; refuse on mismatch",
        )(refused(exchange), f"signed with another secret: {exchange.outcome()}", [exchange])
    )

    exchange = sender.send(event(fmt, kind, new_object_id(fmt, kind)), secret=None)
    out.append(
        rule_finding(
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
        rule_finding(
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
