"""Kaspi HTTP layer: authenticate (X-API-Key), rate-limit, validate, shape responses."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from simulator.control.registry import Controllable, Transition, register
from simulator.core import codec, spec
from simulator.core.clock import iso
from simulator.core.errors import ApiError, BadRequest, InternalError
from simulator.core.runtime import Runtime
from simulator.kaspi import (
    audit,
    catalog,
    defects,
    invoices,
    money,
    refunds,
    sandbox,
    session_control,
    status_check,
    subscriptions,
    webhook_endpoints,
)
from simulator.kaspi.merchants import OUTCOMES, SESSION_TTL_S, Merchants, session
from simulator.web import auth_ignored, error_response, json_body, method_defects, throttle

PREFIX = "/api"
SPEC = "kaspi.openapi.json"
PHONE_RE = re.compile(r"7[0-9]{10}")  # ECMA-262 \d: ASCII digits only
MAX_KEY = 255
# freefin's paths share the /api prefix (the longest prefix wins, as for error envelopes).
OTHER_API = "/api/v1/public/"
bp = Blueprint("kaspi", __name__, url_prefix=PREFIX)


class KaspiState:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.merchants = Merchants(rt.seed["kaspi"])
        self.validators = {
            name: spec.request_validator(SPEC, path, "post")
            for name, path in (
                ("invoice", "/v1/invoices"),
                ("qr", "/v1/qr"),
                ("webhook", "/v1/webhooks"),
                ("subscription", "/v1/subscriptions"),
                ("refund", "/v1/invoices/{id}/refund"),
                ("status_check", "/v1/invoices/status/check"),
                ("simulate", "/v1/sandbox/invoices/{id}/simulate"),
            )
        }


def init_app(app: Flask, rt: Runtime) -> None:
    state = KaspiState(rt)
    app.extensions["paysim.kaspi"] = state
    for merchant_id, limit in state.merchants.rate_limits.items():
        rt.limiter.configure(f"kaspi:{merchant_id}", limit["rate"], limit["burst"])
    defects.register(rt.defects)
    invoices.register_timers(rt)
    subscriptions.register_timers(rt, state.merchants)
    for obj in ("invoice", "qr"):
        register(app, Controllable("kaspi", obj, OUTCOMES, _forcer(rt, obj)))
    app.register_blueprint(bp)
    app.register_blueprint(session_control.bp)


def _forcer(rt: Runtime, obj: str) -> Transition:
    def transition(doc_id: str, status: str, reason: str | None) -> dict[str, Any]:
        return invoices.force(rt, obj, doc_id, status, reason)

    return transition


def _state() -> KaspiState:
    state: KaspiState = current_app.extensions["paysim.kaspi"]
    return state


def render_error(error: ApiError) -> Response:
    """The spec's envelope: ``{"error": code, "message", "details", "timestamp"}``."""
    rt = _state().rt
    body: dict[str, Any]
    if rt.defects.on("kaspi.wrong_error_envelope"):
        body = {"error": {"code": error.code, "message": error.message}}
    else:
        body = {
            "error": error.code,
            "message": error.message,
            "details": error.details,
            "timestamp": iso(rt.clock.now()),
        }
    return error_response(error, body)


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return render_error(error)


@bp.before_request
def _authenticate() -> None:
    state = _state()
    rt = state.rt
    key = request.headers.get("X-API-Key")
    if not key and auth_ignored(rt.defects, "kaspi", "kaspi.get_invoice"):
        g.merchant = state.merchants.first
        return
    merchant = state.merchants.authenticate(key)
    throttle(rt.limiter, rt.defects, "kaspi", merchant.id, wait_detail="retry_after_s")
    g.merchant = merchant


@bp.after_app_request
def _method_defects(resp: Response) -> Response:
    """kaspi.method_not_405 and kaspi.allow_header_wrong: what a path says of its methods."""
    path, rt = request.path, _state().rt
    if not path.startswith(PREFIX + "/") or path.startswith(OTHER_API):
        return resp
    return method_defects(resp, rt.defects, "kaspi")


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_KEY:
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY} characters",
            code="validation_error",
            details={"fields": {"Idempotency-Key": "length"}},
        )
    return key


@contextlib.contextmanager
def _refusal_spends_key(operation: str, key: str | None) -> Iterator[None]:
    """The kaspi.idempotency_stores_errors defect: a 4xx answer spends its key."""
    try:
        yield
    except ApiError as error:
        rt = _state().rt
        if key and 400 <= error.status < 500 and rt.defects.on("kaspi.idempotency_stores_errors"):
            invoices.remember_refusal(rt, g.merchant, operation, key, error)
        raise


def _validated(name: str, required: bool = True) -> dict[str, Any]:
    """The JSON body checked against the spec's request schema; 400 naming the field."""
    body = json_body(required=required)
    if _state().rt.defects.on("kaspi.amount_coerced") and isinstance(body, dict):
        amount = body.get("amount")
        if isinstance(amount, str) and amount.isdigit():
            body["amount"] = int(amount)
    error = spec.first_error(_state().validators[name], body)
    if error:
        raise ApiError(
            f"{error[0]}: {error[1]}",
            code="validation_error",
            status=400,
            details={"fields": {error[0]: error[1]}},
        )
    return body


def _phone(body: dict[str, Any]) -> None:
    if not PHONE_RE.fullmatch(body["phone_number"]):
        raise ApiError(
            "phone_number: must be 7 followed by 10 digits, e.g. 77011234567",
            code="validation_error",
            status=400,
            details={"fields": {"phone_number": "must match 7XXXXXXXXXX"}},
        )


def _args() -> dict[str, str]:
    """The query's arguments; each may be given once."""
    repeated = sorted({k for k, v in request.args.lists() if len(v) > 1})
    if repeated:
        raise ApiError(
            f"{repeated[0]}: given more than once",
            code="validation_error",
            status=400,
            details={"fields": dict.fromkeys(repeated, "given twice")},
        )
    return request.args.to_dict()


def _json(body: Any, status: int, replayed: bool | None = None) -> Response:
    rt = _state().rt
    if rt.defects.on("kaspi.wrong_type") or rt.defects.on("kaspi.amount_format"):
        body = _misrender(body, rt.defects.on("kaspi.wrong_type"))
    if rt.defects.on("kaspi.negative_money"):
        body = _negative_refunded(body)
    resp = Response(codec.dumpb(body), status=status, mimetype="application/json")
    if replayed is not None:
        resp.headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return resp


def _misrender(body: Any, as_number: bool) -> Any:
    """Amounts as numbers (kaspi.wrong_type) or with one decimal (kaspi.amount_format)."""
    if isinstance(body, list):
        return [_misrender(item, as_number) for item in body]
    if not isinstance(body, dict):
        return body
    out = {k: _misrender(v, as_number) if k == "items" else v for k, v in body.items()}
    for field in ("amount", "refunded_amount"):
        if isinstance(out.get(field), str):
            number = float(out[field])
            out[field] = number if as_number else repr(number)
    return out


def _negative_refunded(body: Any) -> Any:
    """kaspi.negative_money: a refunded_amount of "0.00" shown as "-0.01"."""
    if isinstance(body, list):
        return [_negative_refunded(item) for item in body]
    if not isinstance(body, dict):
        return body
    out = {k: _negative_refunded(v) if k == "items" else v for k, v in body.items()}
    if out.get("refunded_amount") == "0.00":
        out["refunded_amount"] = "-0.01"
    return out


@bp.post("/organizations/verify")
def verify_organization() -> Response:
    merchant = g.merchant
    return _json(
        {"valid": True, "merchant_id": merchant.id, "organization": merchant.organization}, 200
    )


@bp.get("/v1/me")
def me() -> Response:
    merchant = g.merchant
    with _state().rt.store.read() as tx:
        connected = session(tx, merchant)["connected"]
    return _json(
        {
            "id": merchant.id,
            "name": merchant.name,
            "organization": merchant.organization,
            "kaspi_connected": connected,
        },
        200,
    )


@bp.get("/v1/invoices")
def list_invoices() -> Response:
    return _json(invoices.listing(_state().rt, g.merchant, _args()), 200)


@bp.post("/v1/invoices")
def create_invoice() -> Response:
    rt = _state().rt
    key = _idempotency_key()
    with _refusal_spends_key("create_invoice", key):
        body = _validated("invoice")
        if not rt.defects.on("kaspi.negative_data_accepted"):
            _phone(body)
        if "external_order_id" not in body and rt.defects.on("kaspi.server_error"):
            raise InternalError("external_order_id broke the server")
        if "external_order_id" not in body and rt.defects.on("kaspi.valid_data_refused"):
            raise money.validation_error("external_order_id", "required")
        status, invoice, replayed = invoices.create(rt, g.merchant, "invoice", body, key)
    if rt.defects.on("kaspi.missing_required"):
        invoice = {k: v for k, v in invoice.items() if k != "payment_url"}
    return _json(invoice, status, replayed)


@bp.get("/v1/invoices/<invoice_id>")
def get_invoice(invoice_id: str) -> Response:
    rt = _state().rt
    invoice = invoices.get(rt, g.merchant, "invoice", invoice_id)
    resp = _json(invoice, 203 if rt.defects.on("kaspi.undocumented_status") else 200)
    if rt.defects.on("kaspi.content_type_wrong"):
        resp.headers["Content-Type"] = "text/html; charset=utf-8"
    return resp


@bp.post("/v1/invoices/<invoice_id>/cancel")
def cancel_invoice(invoice_id: str) -> Response:
    return _json(invoices.cancel(_state().rt, g.merchant, invoice_id), 200)


@bp.post("/v1/invoices/status/check")
def check_statuses() -> Response:
    body = _validated("status_check", required=False)
    return _json(status_check.check_statuses(_state().rt, g.merchant, body.get("ids", [])), 200)


@bp.post("/v1/qr")
def create_qr() -> Response:
    key = _idempotency_key()
    with _refusal_spends_key("create_qr", key):
        body = _validated("qr")
        for field, bound in (("latitude", 90), ("longitude", 180)):
            if field in body and not -bound <= body[field] <= bound:
                raise ApiError(
                    f"{field}: must be between -{bound} and {bound}",
                    code="validation_error",
                    status=400,
                    details={"fields": {field: "out of range"}},
                )
        status, qr, replayed = invoices.create(_state().rt, g.merchant, "qr", body, key)
    return _json(qr, status, replayed)


@bp.post("/v1/invoices/<invoice_id>/refund")
def refund_invoice(invoice_id: str) -> Response:
    key = _idempotency_key()
    with _refusal_spends_key("refund", key):
        body = _validated("refund", required=False)
        status, refund, replayed = refunds.create(
            _state().rt, g.merchant, "invoice", invoice_id, body, key
        )
    return _json(refund, status, replayed)


@bp.get("/v1/refunds")
def list_refunds() -> Response:
    return _json(refunds.listing(_state().rt, g.merchant, _args()), 200)


@bp.post("/v1/refunds")
def create_refund() -> Response:
    key = _idempotency_key()
    with _refusal_spends_key("refund", key):
        body = json_body()
        obj, doc_id = refunds.target_of(body)
        rest = {k: v for k, v in body.items() if k != f"{obj}_id"}
        status, refund, replayed = refunds.create(_state().rt, g.merchant, obj, doc_id, rest, key)
    return _json(refund, status, replayed)


@bp.get("/v1/webhooks")
def list_webhooks() -> Response:
    return _json(webhook_endpoints.listing(_state().rt, g.merchant, _args()), 200)


@bp.post("/v1/webhooks")
def create_webhook() -> Response:
    body = _validated("webhook")
    return _json(webhook_endpoints.create(_state().rt, g.merchant, body), 201)


@bp.post("/v1/webhooks/<webhook_id>/test")
def test_webhook(webhook_id: str) -> Response:
    return _json(webhook_endpoints.send_test(_state().rt, g.merchant, webhook_id), 202)


@bp.get("/v1/catalog")
def list_catalog() -> Response:
    return _json(catalog.listing(_state().rt, g.merchant, _args()), 200)


@bp.post("/v1/catalog")
def create_catalog_items() -> Response:
    return _json(catalog.create(_state().rt, g.merchant, json_body()), 201)


@bp.get("/v1/catalog/units")
def list_units() -> Response:
    return _json(catalog.units(), 200)


@bp.get("/v1/subscriptions")
def list_subscriptions() -> Response:
    return _json(subscriptions.listing(_state().rt, g.merchant, _args()), 200)


@bp.post("/v1/subscriptions")
def create_subscription() -> Response:
    body = _validated("subscription")
    _phone(body)
    return _json(subscriptions.create(_state().rt, g.merchant, body), 201)


@bp.get("/v1/kaspi/session")
def kaspi_session() -> Response:
    rt = _state().rt
    merchant = g.merchant
    now = rt.clock.now()
    with rt.store.read() as tx:
        state = session(tx, merchant)
    connected = state["connected"]
    since = state["since"] if state["since"] is not None else now
    return _json(
        {
            "merchant_id": merchant.id,
            "connected": connected,
            "status": "active" if connected else "disconnected",
            "kaspi_merchant_id": merchant.organization.get("kaspi_merchant_id"),
            "expires_at": iso(since + SESSION_TTL_S) if connected else None,
            "last_check": iso(now),
        },
        200,
    )


@bp.get("/v1/audit-logs")
def list_audit_logs() -> Response:
    return _json(audit.page(_state().rt, g.merchant.id, _args()), 200)


@bp.get("/v1/webhook-deliveries")
def list_deliveries() -> Response:
    return _json(webhook_endpoints.deliveries(_state().rt, g.merchant, _args()), 200)


@bp.post("/v1/webhook-deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> Response:
    return _json(webhook_endpoints.retry(_state().rt, g.merchant, delivery_id), 202)


@bp.get("/v1/jobs")
def list_jobs() -> Response:
    return _json(webhook_endpoints.jobs(_state().rt, g.merchant, _args()), 200)


@bp.post("/v1/sandbox/invoices/<invoice_id>/simulate")
def simulate_invoice(invoice_id: str) -> Response:
    rt = _state().rt
    invoices.get(rt, g.merchant, "invoice", invoice_id)  # the path's invoice before the body
    body = _validated("simulate")
    return _json(sandbox.simulate(rt, g.merchant, invoice_id, body["status"]), 200)
