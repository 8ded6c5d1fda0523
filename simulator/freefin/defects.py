"""The freefin defects: each makes the simulator break the contract in one named way."""

from __future__ import annotations

from simulator.core.defects import Defects

CATALOG = {
    "freefin.undocumented_status": "GET /payments/{id} answers 203, a status the spec lacks",
    "freefin.wrong_type": "payment.amount is rendered as a string",
    "freefin.missing_required": "createPayment's response lacks the required payment_url",
    "freefin.server_error": "createPayment answers 500 when the body has no order_id",
    "freefin.auth_ignored": "GET /payments/{id} answers without credentials",
    "freefin.idempotency_duplicate": "an Idempotency-Key replay creates a new object",
    "freefin.refund_over_remainder": "a refund above the remainder is accepted",
    "freefin.no_retry_after": "429 responses lack Retry-After",
    "freefin.wrong_error_envelope": 'errors are {"message": ...} instead of the spec\'s envelope',
    "freefin.negative_data_accepted": "amount's minimum of 1 is not enforced on createPayment",
    "freefin.cancel_any_status": "a payment in any status can be cancelled",
    "freefin.negative_money": "amount_refunded is -1 before any refund",
    "freefin.content_type_wrong": "GET /payments/{id} answers with Content-Type text/html",
    "freefin.resource_unavailable": "a payment 404s for its first second",
    "freefin.isolation_broken": "a merchant can read and act on another merchant's objects",
    "freefin.valid_data_refused": "createPayment refuses (400) a body without order_id, which "
    "the spec makes optional",
    "freefin.method_not_405": "an undeclared method answers 405 without an Allow header",
    "freefin.allow_header_wrong": "OPTIONS advertises DELETE in Allow, a method no path has",
    "freefin.signature_not_checked": "X-Freefin-Signature is never verified",
    "freefin.webhook_unsigned": "webhooks carry no signature header",
    "freefin.webhook_bad_signature": "webhooks are signed with the wrong secret",
    "freefin.events_out_of_order": "a transition's events are written in reverse order",
    "freefin.expiry_ignored": "pending payments never expire",
    "freefin.sse_no_resume": "the event stream ignores Last-Event-ID and sends no id: lines",
    "freefin.idempotency_global_scope": "Idempotency-Key is looked up across all terminals",
    "freefin.idempotency_key_unbounded": "an Idempotency-Key over 64 characters is accepted",
    "freefin.idempotency_stores_errors": "a 4xx answer is stored under its Idempotency-Key",
    "freefin.payout_any_bank": "a payout to a bank outside the SBP directory is accepted",
    "freefin.refund_any_status": "a payment in any status can be refunded",
    "freefin.refund_zero_amount": "a refund with amount 0 or none is refused instead of "
    "refunding the remainder",
    "freefin.signature_over_parsed_json": "X-Freefin-Signature is checked against the body "
    "re-serialized as compact JSON, not the raw bytes",
}


def register(defects: Defects) -> None:
    for name, description in CATALOG.items():
        defects.register(name, description)
