"""Kaspi's views: one function per operation of the seed, over the HTTP layer in ``api.py``."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g

from simulator.control.registry import Controllable, Transition, register
from simulator.core.clock import iso
from simulator.core.errors import ApiError
from simulator.core.runtime import Runtime
from simulator.kaspi import (
    api,
    audit,
    catalog,
    defects,
    invoices,
    refunds,
    rules,
    sandbox,
    session_control,
    status_check,
    subscriptions,
    webhook_endpoints,
)
from simulator.kaspi.api import PREFIX, bp, render_error
from simulator.kaspi.merchants import OUTCOMES, SESSION_TTL_S, session
from simulator.web import json_body

__all__ = ["PREFIX", "init_app", "render_error"]


def init_app(app: Flask, rt: Runtime) -> None:
    state = api.KaspiState(rt)
    app.extensions["paysim.kaspi"] = state
    for merchant_id, limit in state.merchants.rate_limits.items():
        rt.limiter.configure(f"kaspi:{merchant_id}", limit["rate"], limit["burst"])
    defects.register(rt.defects)
    invoices.register_timers(rt)
    subscriptions.register_timers(rt, state.merchants)
    for obj in ("invoice", "qr"):
        register(
            app,
            Controllable(
                "kaspi",
                obj,
                OUTCOMES,
                _forcer(rt, obj),
                lifecycle=invoices.LIFECYCLE,
                aliases=(("failed", "canceled"),),
            ),
        )
    app.register_blueprint(bp)
    app.register_blueprint(session_control.bp)


def _forcer(rt: Runtime, obj: str) -> Transition:
    def transition(doc_id: str, status: str, reason: str | None) -> dict[str, Any]:
        return invoices.force(rt, obj, doc_id, status, reason)

    return transition


@bp.post("/organizations/verify")
def verify_organization() -> Response:
    merchant = g.merchant
    return api.json(
        {"valid": True, "merchant_id": merchant.id, "organization": merchant.organization}, 200
    )


@bp.get("/v1/me")
def me() -> Response:
    merchant = g.merchant
    with api.current().rt.store.read() as tx:
        connected = session(tx, merchant)["connected"]
    return api.json(
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
    return api.json(invoices.listing(api.current().rt, g.merchant, api.args()), 200)


@bp.post("/v1/invoices")
def create_invoice() -> Response:
    rt = api.current().rt
    in_force = rules.of(rt)
    key = api.idempotency_key()
    with api.refusal_spends_key("create_invoice", key):
        body = api.validated("invoice")
        if in_force.checks_invoice_phone():
            api.phone(body)
        in_force.check_invoice_body(body)
        status, invoice, replayed = invoices.create(rt, g.merchant, "invoice", body, key)
    return api.json(in_force.created_invoice(invoice), status, replayed)


@bp.get("/v1/invoices/<invoice_id>")
def get_invoice(invoice_id: str) -> Response:
    rt = api.current().rt
    invoice = invoices.get(rt, g.merchant, "invoice", invoice_id)
    in_force = rules.of(rt)
    resp = api.json(invoice, in_force.read_status())
    resp.headers["Content-Type"] = in_force.read_content_type()
    return resp


@bp.post("/v1/invoices/<invoice_id>/cancel")
def cancel_invoice(invoice_id: str) -> Response:
    return api.json(invoices.cancel(api.current().rt, g.merchant, invoice_id), 200)


@bp.post("/v1/invoices/status/check")
def check_statuses() -> Response:
    body = api.validated("status_check", required=False)
    return api.json(
        status_check.check_statuses(api.current().rt, g.merchant, body.get("ids", [])), 200
    )


@bp.post("/v1/qr")
def create_qr() -> Response:
    key = api.idempotency_key()
    with api.refusal_spends_key("create_qr", key):
        body = api.validated("qr")
        for field, bound in (("latitude", 90), ("longitude", 180)):
            if field in body and not -bound <= body[field] <= bound:
                raise ApiError(
                    f"{field}: must be between -{bound} and {bound}",
                    code="validation_error",
                    status=400,
                    details={"fields": {field: "out of range"}},
                )
        status, qr, replayed = invoices.create(api.current().rt, g.merchant, "qr", body, key)
    return api.json(qr, status, replayed)


@bp.post("/v1/invoices/<invoice_id>/refund")
def refund_invoice(invoice_id: str) -> Response:
    key = api.idempotency_key()
    with api.refusal_spends_key("refund", key):
        body = api.validated("refund", required=False)
        status, refund, replayed = refunds.create(
            api.current().rt, g.merchant, "invoice", invoice_id, body, key
        )
    return api.json(refund, status, replayed)


@bp.get("/v1/refunds")
def list_refunds() -> Response:
    return api.json(refunds.listing(api.current().rt, g.merchant, api.args()), 200)


@bp.post("/v1/refunds")
def create_refund() -> Response:
    key = api.idempotency_key()
    with api.refusal_spends_key("refund", key):
        body = json_body()
        obj, doc_id = refunds.target_of(body)
        rest = {k: v for k, v in body.items() if k != f"{obj}_id"}
        status, refund, replayed = refunds.create(
            api.current().rt, g.merchant, obj, doc_id, rest, key
        )
    return api.json(refund, status, replayed)


@bp.get("/v1/webhooks")
def list_webhooks() -> Response:
    return api.json(webhook_endpoints.listing(api.current().rt, g.merchant, api.args()), 200)


@bp.post("/v1/webhooks")
def create_webhook() -> Response:
    body = api.validated("webhook")
    return api.json(webhook_endpoints.create(api.current().rt, g.merchant, body), 201)


@bp.post("/v1/webhooks/<webhook_id>/test")
def test_webhook(webhook_id: str) -> Response:
    return api.json(webhook_endpoints.send_test(api.current().rt, g.merchant, webhook_id), 202)


@bp.get("/v1/catalog")
def list_catalog() -> Response:
    return api.json(catalog.listing(api.current().rt, g.merchant, api.args()), 200)


@bp.post("/v1/catalog")
def create_catalog_items() -> Response:
    return api.json(catalog.create(api.current().rt, g.merchant, json_body()), 201)


@bp.get("/v1/catalog/units")
def list_units() -> Response:
    return api.json(catalog.units(), 200)


@bp.get("/v1/subscriptions")
def list_subscriptions() -> Response:
    return api.json(subscriptions.listing(api.current().rt, g.merchant, api.args()), 200)


@bp.post("/v1/subscriptions")
def create_subscription() -> Response:
    body = api.validated("subscription")
    api.phone(body)
    return api.json(subscriptions.create(api.current().rt, g.merchant, body), 201)


@bp.get("/v1/kaspi/session")
def kaspi_session() -> Response:
    rt = api.current().rt
    merchant = g.merchant
    now = rt.clock.now()
    with rt.store.read() as tx:
        state = session(tx, merchant)
    connected = state["connected"]
    since = state["since"] if state["since"] is not None else now
    return api.json(
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
    return api.json(audit.page(api.current().rt, g.merchant.id, api.args()), 200)


@bp.get("/v1/webhook-deliveries")
def list_deliveries() -> Response:
    return api.json(webhook_endpoints.deliveries(api.current().rt, g.merchant, api.args()), 200)


@bp.post("/v1/webhook-deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> Response:
    return api.json(webhook_endpoints.retry(api.current().rt, g.merchant, delivery_id), 202)


@bp.get("/v1/jobs")
def list_jobs() -> Response:
    return api.json(webhook_endpoints.jobs(api.current().rt, g.merchant, api.args()), 200)


@bp.post("/v1/sandbox/invoices/<invoice_id>/simulate")
def simulate_invoice(invoice_id: str) -> Response:
    rt = api.current().rt
    invoices.get(rt, g.merchant, "invoice", invoice_id)  # the path's invoice before the body
    body = api.validated("simulate")
    return api.json(sandbox.simulate(rt, g.merchant, invoice_id, body["status"]), 200)
