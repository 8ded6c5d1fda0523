"""The Kaspi defects: each makes the simulator break the contract in one named way."""

from __future__ import annotations

from simulator.core.defects import Defects

CATALOG = {
    "kaspi.undocumented_status": "GET /v1/invoices/{id} answers 203, a status the spec lacks",
    "kaspi.wrong_type": "amounts are rendered as JSON numbers instead of strings",
    "kaspi.amount_format": 'amounts are rendered with one decimal ("10000.0")',
    "kaspi.missing_required": "the created invoice lacks payment_url",
    "kaspi.server_error": "POST /v1/invoices answers 500 when the body has no external_order_id",
    "kaspi.auth_ignored": "GET /v1/invoices/{id} answers without X-API-Key",
    "kaspi.idempotency_duplicate": "an Idempotency-Key replay creates a new object",
    "kaspi.refund_over_remainder": "a refund above the remainder is accepted",
    "kaspi.no_retry_after": "429 responses lack Retry-After",
    "kaspi.wrong_error_envelope": 'errors are {"error": {"code", "message"}}, not the envelope',
    "kaspi.isolation_broken": "a merchant can read and act on another merchant's objects",
    "kaspi.cancel_any_status": "an invoice in any status can be canceled",
    "kaspi.negative_money": 'refunded_amount is "-0.01" before any refund',
    "kaspi.negative_data_accepted": "POST /v1/invoices accepts a phone_number that is not 7 "
    "and 10 digits",
    "kaspi.valid_data_refused": "POST /v1/invoices refuses (400) a body without "
    "external_order_id, which the spec makes optional",
    "kaspi.content_type_wrong": "GET /v1/invoices/{id} answers with Content-Type text/html",
    "kaspi.resource_unavailable": "an invoice 404s for its first second",
    "kaspi.method_not_405": "an undeclared method answers 405 without an Allow header",
    "kaspi.allow_header_wrong": "OPTIONS advertises DELETE in Allow, a method no path has",
    "kaspi.simulate_non_sandbox": "sandbox simulate works on live (non-sandbox) invoices",
    "kaspi.simulate_pending_ignored": "simulate pending answers 200 but the invoice still "
    "follows its planned outcome",
    "kaspi.webhook_unsigned": "webhooks carry no X-Arzan-Signature",
    "kaspi.webhook_bad_signature": "webhooks are signed with the wrong secret",
    "kaspi.idempotency_global_scope": "Idempotency-Key is shared by all merchants",
    "kaspi.idempotency_stores_errors": "a refused (4xx) request spends its Idempotency-Key",
    "kaspi.refund_any_status": "an invoice in any status can be refunded",
    "kaspi.subscription_not_billed": "subscriptions bill their first period only",
    "kaspi.pagination_broken": "GET /v1/invoices ignores page and status (pagination still "
    "reports the requested page)",
    "kaspi.status_check_unknown_found": "the status check reports unknown ids as found",
    "kaspi.connection_ignored": "a merchant without a Kaspi connection can create invoices",
    "kaspi.amount_coerced": 'an amount sent as a string of digits ("100") is taken as a number',
}


def register(defects: Defects) -> None:
    for name, description in CATALOG.items():
        defects.register(name, description)
