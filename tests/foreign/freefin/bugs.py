"""The catalogue of switchable bugs of the foreign freefin server."""

from __future__ import annotations

from collections.abc import Iterable

BUGS: dict[str, str] = {
    "replay_duplicates": "same Idempotency-Key and body creates a new payment (201)",
    "conflict_ignored": "same Idempotency-Key with another body answers 200 with the old payment",
    "over_refund": "no remainder check: refunds may exceed the payment amount",
    "refund_unpaid": "a refund is allowed on a pending payment",
    "signature_unchecked": "signatures are never verified nor required (terminal 3 included)",
    "amount_as_string": "responses carry payment.amount as a string",
    "create_200": "a first create of a payment or payout answers 200 instead of 201",
    "no_retry_after": "429 answers lack the Retry-After header",
    "cancel_any_state": "cancel succeeds whatever the payment status",
    "auth_ignored_get": "getPayment answers 200 with no or a wrong Authorization",
    "cross_merchant_read": "any merchant can read any payment",
    "crash_on_odd_input": "500 with a plain-text traceback on an empty or non-ASCII order_id",
    "bad_bank_ids": "the SBP bank directory lists 10-digit member_id values",
    "key_length_unchecked": "Idempotency-Key longer than 64 characters is accepted",
    "sse_silent": "the SSE stream sends ': connected' and pings but no events",
    "zero_amount_accepted": "amount 0 and negative amounts create payments",
}


def check_bugs(names: Iterable[str]) -> frozenset[str]:
    """Return the bug names as a frozenset; raise ValueError on an unknown name."""
    chosen = frozenset(names)
    unknown = sorted(chosen - BUGS.keys())
    if unknown:
        known = ", ".join(sorted(BUGS))
        raise ValueError(f"unknown bug(s): {', '.join(unknown)}; known bugs: {known}")
    return chosen
