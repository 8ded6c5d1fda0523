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
    "kaspi.simulate_non_sandbox": "sandbox simulate works on live (non-sandbox) invoices",
    "kaspi.webhook_unsigned": "webhooks carry no X-Arzan-Signature",
    "kaspi.webhook_bad_signature": "webhooks are signed with the wrong secret",
}


def register(defects: Defects) -> None:
    for name, description in CATALOG.items():
        defects.register(name, description)
