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

The checks of what arrives (valid events, signatures, byte forms) are in ``handler_signatures``;
the checks of what an event does (duplicates, order, unknown kinds and fields, bad bodies) are in
``handler_state``.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.apis.facts import WebhookFormat
from harness.grading.delivery import HandlerTarget, Probe, Sender, Unreachable
from harness.grading.events import event, formats, main_kind, new_object_id
from harness.grading.findings import Finding, Grade
from harness.grading.handler_signatures import check_byte_forms, check_signatures, check_valid
from harness.grading.handler_state import (
    check_bad_payloads,
    check_duplicates,
    check_order,
    check_unknown,
)

__all__ = ["HandlerTarget", "Unreachable", "grade"]

Check = Callable[[Sender, Probe], list[Finding]]


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
        hello = sender.send(event(fmt, main_kind(fmt), new_object_id(fmt, main_kind(fmt))))
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
