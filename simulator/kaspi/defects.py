"""The Kaspi defects: each breaks one rule of ``rules.KaspiRules`` in one named way."""

from __future__ import annotations

from typing import Any

from simulator.core.api_rules import declare_shared_defects
from simulator.core.defects import Defects, breakages
from simulator.core.errors import ApiError, InternalError
from simulator.kaspi import money
from simulator.kaspi.rules import KaspiRules

SHARED = declare_shared_defects(
    KaspiRules,
    descriptions={
        "auth_ignored": "GET /v1/invoices/{id} answers without X-API-Key",
        "no_retry_after": "429 responses lack Retry-After",
        "method_not_405": "an undeclared method answers 405 without an Allow header",
        "allow_header_wrong": "OPTIONS advertises DELETE in Allow, a method no path has",
        "undocumented_status": "GET /v1/invoices/{id} answers 203, a status the spec lacks",
        "content_type_wrong": "GET /v1/invoices/{id} answers with Content-Type text/html",
        "idempotency_duplicate": "an Idempotency-Key replay creates a new object",
        "idempotency_global_scope": "Idempotency-Key is shared by all merchants",
        "idempotency_stores_errors": "a refused (4xx) request spends its Idempotency-Key",
        "isolation_broken": "a merchant can read and act on another merchant's objects",
        "resource_unavailable": "an invoice 404s for its first second",
        "cancel_any_status": "an invoice in any status can be canceled",
        "refund_any_status": "an invoice in any status can be refunded",
        "refund_over_remainder": "a refund above the remainder is accepted",
        "events_out_of_order": "a change's events are written in reverse order "
        "(invoice.paid before invoice.status_changed)",
        "event_id_reused": "the events of one change share the first event's id",
        "webhook_unsigned": "webhooks carry no X-Arzan-Signature",
        "webhook_bad_signature": "webhooks are signed with the wrong secret",
    },
)


def _each_object(body: Any, change: Any) -> Any:
    """``change`` applied to the body, or to each of a list's items."""
    if isinstance(body, list):
        return [_each_object(item, change) for item in body]
    if not isinstance(body, dict):
        return body
    out = {k: _each_object(v, change) if k == "items" else v for k, v in body.items()}
    change(out)
    return out


class RefusalSwallowed(
    KaspiRules,
    defect="kaspi.refusal_swallowed",
    description="an invoice Kaspi refused is created anyway (201 instead of 502)",
):
    def honours_refusal(self) -> bool:
        return False


class AuditSilent(
    KaspiRules,
    defect="kaspi.audit_silent",
    description="payment actions are not written to the audit log",
):
    def audits(self) -> bool:
        return False


class WrongType(
    KaspiRules,
    defect="kaspi.wrong_type",
    description="amounts are rendered as JSON numbers instead of strings",
):
    def rendered(self, body: Any) -> Any:
        def as_numbers(obj: dict[str, Any]) -> None:
            for field in ("amount", "refunded_amount"):
                if isinstance(obj.get(field), str):
                    obj[field] = float(obj[field])

        return _each_object(super().rendered(body), as_numbers)


class AmountFormat(
    KaspiRules,
    defect="kaspi.amount_format",
    description='amounts are rendered with one decimal ("10000.0")',
):
    def rendered(self, body: Any) -> Any:
        def one_decimal(obj: dict[str, Any]) -> None:
            for field in ("amount", "refunded_amount"):
                if isinstance(obj.get(field), str):
                    obj[field] = repr(float(obj[field]))

        return _each_object(super().rendered(body), one_decimal)


class NegativeMoney(
    KaspiRules,
    defect="kaspi.negative_money",
    description='refunded_amount is "-0.01" before any refund',
):
    def rendered(self, body: Any) -> Any:
        def negative(obj: dict[str, Any]) -> None:
            if obj.get("refunded_amount") == "0.00":
                obj["refunded_amount"] = "-0.01"

        return _each_object(super().rendered(body), negative)


class MissingRequired(
    KaspiRules,
    defect="kaspi.missing_required",
    description="the created invoice lacks payment_url",
):
    def created_invoice(self, invoice: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in invoice.items() if k != "payment_url"}


class ServerError(
    KaspiRules,
    defect="kaspi.server_error",
    description="POST /v1/invoices answers 500 when the body has no external_order_id",
):
    def check_invoice_body(self, body: dict[str, Any]) -> None:
        if "external_order_id" not in body:
            raise InternalError("external_order_id broke the server")


class ValidDataRefused(
    KaspiRules,
    defect="kaspi.valid_data_refused",
    description="POST /v1/invoices refuses (400) a body without external_order_id, which the "
    "spec makes optional",
):
    def check_invoice_body(self, body: dict[str, Any]) -> None:
        if "external_order_id" not in body:
            raise money.validation_error("external_order_id", "required")


class NegativeDataAccepted(
    KaspiRules,
    defect="kaspi.negative_data_accepted",
    description="POST /v1/invoices accepts a phone_number that is not 7 and 10 digits",
):
    def checks_invoice_phone(self) -> bool:
        return False


class AmountCoerced(
    KaspiRules,
    defect="kaspi.amount_coerced",
    description='an amount sent as a string of digits ("100") is taken as a number',
):
    def request_body(self, body: Any) -> Any:
        body = super().request_body(body)
        if isinstance(body, dict):
            amount = body.get("amount")
            if isinstance(amount, str) and amount.isdigit():
                body["amount"] = int(amount)
        return body


class WrongErrorEnvelope(
    KaspiRules,
    defect="kaspi.wrong_error_envelope",
    description='errors are {"error": {"code", "message"}}, not the envelope',
):
    def error_body(self, error: ApiError, timestamp: str) -> dict[str, Any]:
        return {"error": {"code": error.code, "message": error.message}}


class PaginationBroken(
    KaspiRules,
    defect="kaspi.pagination_broken",
    description="GET /v1/invoices ignores page and status (pagination still reports the "
    "requested page)",
):
    def pages(self) -> bool:
        return False


class ConnectionIgnored(
    KaspiRules,
    defect="kaspi.connection_ignored",
    description="a merchant without a Kaspi connection can create invoices",
):
    def requires_connection(self) -> bool:
        return False


class StatusCheckUnknownFound(
    KaspiRules,
    defect="kaspi.status_check_unknown_found",
    description="the status check reports unknown ids as found",
):
    def found_unknown(self) -> bool:
        return True


class SimulateNonSandbox(
    KaspiRules,
    defect="kaspi.simulate_non_sandbox",
    description="sandbox simulate works on live (non-sandbox) invoices",
):
    def simulates(self, is_sandbox: bool) -> bool:
        return True


class SimulatePendingIgnored(
    KaspiRules,
    defect="kaspi.simulate_pending_ignored",
    description="simulate pending answers 200 but the invoice still follows its planned outcome",
):
    def simulated_pending_holds(self) -> bool:
        return False


class SubscriptionNotBilled(
    KaspiRules,
    defect="kaspi.subscription_not_billed",
    description="subscriptions bill their first period only",
):
    def bills(self) -> bool:
        return False


def register(defects: Defects) -> None:
    defects.register(KaspiRules)


CATALOG = {cls.defect: cls.description for cls in breakages(KaspiRules)}
