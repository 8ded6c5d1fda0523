"""The freefin defects: each breaks one rule of ``rules.FreefinRules`` in one named way."""

from __future__ import annotations

import json
from typing import Any

from simulator.core.api_rules import declare_shared_defects
from simulator.core.defects import Defects
from simulator.core.errors import ApiError, BadRequest, InternalError
from simulator.freefin.models import Payment
from simulator.freefin.rules import FreefinRules

SHARED = declare_shared_defects(
    FreefinRules,
    descriptions={
        "auth_ignored": "GET /payments/{id} answers without credentials",
        "no_retry_after": "429 responses lack Retry-After",
        "method_not_405": "an undeclared method answers 405 without an Allow header",
        "allow_header_wrong": "OPTIONS advertises DELETE in Allow, a method no path has",
        "undocumented_status": "GET /payments/{id} answers 203, a status the spec lacks",
        "content_type_wrong": "GET /payments/{id} answers with Content-Type text/html",
        "idempotency_duplicate": "an Idempotency-Key replay creates a new object",
        "idempotency_global_scope": "Idempotency-Key is looked up across all terminals",
        "idempotency_stores_errors": "a 4xx answer is stored under its Idempotency-Key",
        "isolation_broken": "a merchant can read and act on another merchant's objects",
        "resource_unavailable": "a payment 404s for its first second",
        "cancel_any_status": "a payment in any status can be cancelled",
        "refund_any_status": "a payment in any status can be refunded",
        "refund_over_remainder": "a refund above the remainder is accepted",
        "events_out_of_order": "a transition's events are written in reverse order",
        "event_id_reused": "the events of one change share the first event's id",
        "webhook_unsigned": "webhooks carry no signature header",
        "webhook_bad_signature": "webhooks are signed with the wrong secret",
    },
)


class WrongType(
    FreefinRules, defect="freefin.wrong_type", description="payment.amount is rendered as a string"
):
    def rendered(self, body: Any) -> Any:
        if isinstance(body, dict):
            payment = body.get("payment", body)
            if isinstance(payment, dict) and isinstance(payment.get("amount"), int):
                payment["amount"] = str(payment["amount"])
        return body


class MissingRequired(
    FreefinRules,
    defect="freefin.missing_required",
    description="createPayment's response lacks the required payment_url",
):
    def created_payment(self, payment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in payment.items() if k != "payment_url"}


class ServerError(
    FreefinRules,
    defect="freefin.server_error",
    description="createPayment answers 500 when the body has no order_id",
):
    def check_payment_body(self, body: dict[str, Any]) -> None:
        if "order_id" not in body:
            raise InternalError("order_id broke the server")


class ValidDataRefused(
    FreefinRules,
    defect="freefin.valid_data_refused",
    description="createPayment refuses (400) a body without order_id, which the spec makes "
    "optional",
):
    def check_payment_body(self, body: dict[str, Any]) -> None:
        if "order_id" not in body:
            raise BadRequest("order_id: required", code="bad_request")


class NegativeDataAccepted(
    FreefinRules,
    defect="freefin.negative_data_accepted",
    description="amount's minimum of 1 is not enforced on createPayment",
):
    def enforces_amount_minimum(self) -> bool:
        return False


class IdempotencyKeyUnbounded(
    FreefinRules,
    defect="freefin.idempotency_key_unbounded",
    description="an Idempotency-Key over 64 characters is accepted",
):
    def key_acceptable(self, key: str) -> bool:
        return bool(key)


class RefundZeroAmount(
    FreefinRules,
    defect="freefin.refund_zero_amount",
    description="a refund with amount 0 or none is refused instead of refunding the remainder",
):
    def check_refund_amount(self, amount: int) -> None:
        if amount == 0:
            raise BadRequest("amount: must be positive", code="bad_request")
        super().check_refund_amount(amount)


class WrongErrorEnvelope(
    FreefinRules,
    defect="freefin.wrong_error_envelope",
    description='errors are {"message": ...} instead of the spec\'s envelope',
):
    def error_body(self, error: ApiError) -> dict[str, Any]:
        return {"message": error.message}


class NegativeMoney(
    FreefinRules,
    defect="freefin.negative_money",
    description="amount_refunded is -1 before any refund",
):
    def render_payment(self, payment: Payment) -> Payment:
        if payment["amount_refunded"] == 0:
            payment["amount_refunded"] = -1
        return payment


class SignatureNotChecked(
    FreefinRules,
    defect="freefin.signature_not_checked",
    description="X-Freefin-Signature is never verified",
):
    def verifies_signature(self) -> bool:
        return False


class SignatureOverParsedJson(
    FreefinRules,
    defect="freefin.signature_over_parsed_json",
    description="X-Freefin-Signature is checked against the body re-serialized as compact "
    "JSON, not the raw bytes",
):
    def signed_bytes(self, raw: bytes) -> bytes:
        try:
            return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()
        except ValueError:
            return raw


class ExpiryIgnored(
    FreefinRules, defect="freefin.expiry_ignored", description="pending payments never expire"
):
    def expires(self) -> bool:
        return False


class SseNoResume(
    FreefinRules,
    defect="freefin.sse_no_resume",
    description="the event stream ignores Last-Event-ID and sends no id: lines",
):
    def stream_resumes(self) -> bool:
        return False


class SseNoHeartbeat(
    FreefinRules,
    defect="freefin.sse_no_heartbeat",
    description="a quiet event stream sends no ': ping' heartbeat",
):
    def stream_heartbeat(self, seconds: float) -> float:
        return 86_400.0


class PayoutAnyBank(
    FreefinRules,
    defect="freefin.payout_any_bank",
    description="a payout to a bank outside the SBP directory is accepted",
):
    def payout_bank_accepted(self, bank_id: str) -> bool:
        return True


class FailureEventMissing(
    FreefinRules,
    defect="freefin.failure_event_missing",
    description="a failure sends payment.status_changed / payout.status_changed but not .failed",
):
    def event_kinds(self, kinds: list[str]) -> list[str]:
        return [k for k in super().event_kinds(kinds) if not k.endswith(".failed")]


class CancelEventMissing(
    FreefinRules,
    defect="freefin.cancel_event_missing",
    description="a cancel sends payment.status_changed but not payment.cancelled",
):
    def event_kinds(self, kinds: list[str]) -> list[str]:
        return [k for k in super().event_kinds(kinds) if k != "payment.cancelled"]


def register(defects: Defects) -> None:
    defects.register(FreefinRules)
