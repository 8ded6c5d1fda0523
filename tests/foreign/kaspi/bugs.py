"""Switchable defects of the foreign Kaspi Pay server (one behaviour each)."""

from __future__ import annotations

from collections.abc import Iterable

BUGS: dict[str, str] = {
    "replay_duplicates": "an invoice create replayed with the same Idempotency-Key creates a copy",
    "over_refund": "refunds skip the remaining-amount check",
    "refund_unpaid": "a refund is accepted on a pending invoice",
    "cancel_paid": "cancel succeeds (200) on a paid invoice",
    "string_amount_coerced": 'invoice create accepts "amount": "100" and coerces it',
    "page_size_ignored": "lists return up to 100 items whatever page_size says",
    "webhook_test_silent": "webhook test answers 202 but sends and records nothing",
    "webhook_test_unlogged": "webhook test sends the event but the delivery log never shows it",
    "delivery_retry_ignored": "a delivery retry answers 202 but never sends the delivery again",
    "dead_letter_dropped": "a delivery that is given up leaves the jobs queue instead of staying",
    "webhook_bad_signature": "webhook signatures are computed with a wrong key",
    "auth_ignored_get": "GET /v1/invoices/{id} answers without or with a wrong API key",
    "cross_merchant_read": "any merchant reads any invoice",
    "crash_on_odd_input": "500 traceback when an invoice description is empty or non-ASCII",
    "create_200": "invoice create answers 200 instead of 201",
    "no_retry_after": "429 answers carry no Retry-After header",
    "unconnected_creates": "a merchant without Kaspi gets 201 invoices",
    "sandbox_any_invoice": "sandbox simulate works on non-sandbox invoices",
    "amount_as_number": "responses carry the invoice amount as a JSON number",
}


def check_bugs(names: Iterable[str]) -> frozenset[str]:
    """Return the bug names as a set, raising ValueError on an unknown one."""
    chosen = frozenset(names)
    unknown = sorted(chosen - BUGS.keys())
    if unknown:
        known = ", ".join(sorted(BUGS))
        raise ValueError(f"unknown bug(s): {', '.join(unknown)}; known: {known}")
    return chosen
