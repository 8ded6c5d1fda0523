"""Kaspi QR creation and refunds of paid invoices and QRs."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from .common import (
    ApiError,
    fmt_amount,
    get_amount,
    get_bool,
    get_number,
    get_str,
    invalid,
    need_object,
    new_id,
    now_iso,
    paginate,
)
from .invoices import Reply, idempotent
from .models import apply_plan, qr_view, refund_view, set_invoice_status, set_qr_status
from .store import Ctx


def create_qr(ctx: Ctx) -> Reply:
    """POST /v1/qr (idempotent)."""
    store, merchant = ctx.store, ctx.merchant
    assert merchant is not None

    def make() -> Reply:
        body = need_object(ctx.body())
        amount = get_amount(body)
        comment = get_str(body, "comment", max_len=500)
        external_order_id = get_str(body, "external_order_id", max_len=255)
        sandbox = get_bool(body, "is_sandbox", False)
        get_number(body, "latitude", Decimal(-90), Decimal(90))
        get_number(body, "longitude", Decimal(-180), Decimal(180))
        now = now_iso()
        qr_id = new_id()
        qr = {
            "id": qr_id,
            "merchant_id": merchant.id,
            "seq": store.next_seq(),
            "amount": amount,
            "refunded": Decimal("0.00"),
            "currency": "KZT",
            "status": "pending",
            "qr_payload": f"https://qr.kaspi.kz/pay/{secrets.token_hex(12)}",
            "comment": comment,
            "external_order_id": external_order_id,
            "is_sandbox": sandbox,
            "created_at": now,
            "updated_at": now,
        }
        with store.lock:
            store.qrs[qr_id] = qr
            store.audit(merchant.id, "qr.created", "qr", qr_id)
            apply_plan(store, "qr", qr)
            return 201, qr_view(qr)

    return idempotent(ctx, "qr", make)


def _refund(ctx: Ctx, target: dict[str, Any], kind: str, body: dict[str, Any]) -> Reply:
    """Refund part or all of what remains of a paid invoice or QR."""
    store = ctx.store
    amount = get_amount(body, required=False)
    reason = get_str(body, "reason", max_len=500)
    with store.lock:
        allowed = (
            {"paid", "pending"} if store.bug("refund_unpaid") and kind == "invoice" else {"paid"}
        )
        if target["status"] not in allowed:
            code = "INVOICE_NOT_PAID" if kind == "invoice" else "QR_NOT_PAID"
            raise ApiError(
                409,
                code,
                f"only a paid {kind} can be refunded",
                {"id": target["id"], "status": target["status"]},
            )
        remaining = target["amount"] - target["refunded"]
        if amount is None:
            amount = remaining
        if amount > remaining and not store.bug("over_refund"):
            raise ApiError(
                400,
                "REFUND_TOO_LARGE",
                "refund amount exceeds the remaining refundable amount",
                {"amount": fmt_amount(amount), "remaining": fmt_amount(remaining)},
            )
        if amount <= 0:
            raise invalid("amount", "nothing left to refund")
        refund = {
            "id": new_id(),
            "merchant_id": target["merchant_id"],
            "seq": store.next_seq(),
            "invoice_id": target["id"] if kind == "invoice" else None,
            "qr_id": target["id"] if kind == "qr" else None,
            "amount": amount,
            "status": "succeeded",
            "reason": reason,
            "created_at": now_iso(),
        }
        store.refunds[refund["id"]] = refund
        target["refunded"] += amount
        store.audit(target["merchant_id"], "refund.created", "refund", refund["id"], target=kind)
        view = refund_view(refund)
        if kind == "invoice":
            store.emit(target["merchant_id"], "invoice.refunded", view)
        if target["refunded"] >= target["amount"] and target["status"] == "paid":
            if kind == "invoice":
                set_invoice_status(store, target, "refunded", "refund")
            else:
                set_qr_status(store, target, "refunded", "refund")
        return 201, view


def refund_invoice(ctx: Ctx, id: str) -> Reply:
    """POST /v1/invoices/{id}/refund {amount?, reason?}."""
    body = ctx.body()
    body = need_object({} if body is None else body)
    with ctx.store.lock:
        inv = ctx.store.own(ctx.store.invoices, ctx.mid, id)
        return _refund(ctx, inv, "invoice", body)


def create_refund(ctx: Ctx) -> Reply:
    """POST /v1/refunds {invoice_id | qr_id, amount?, reason?} (idempotent)."""

    def make() -> Reply:
        body = need_object(ctx.body())
        invoice_id = get_str(body, "invoice_id", max_len=100)
        qr_id = get_str(body, "qr_id", max_len=100)
        if (invoice_id is None) == (qr_id is None):
            raise invalid("invoice_id", "exactly one of invoice_id and qr_id is required")
        store = ctx.store
        with store.lock:
            if invoice_id is not None:
                return _refund(ctx, store.own(store.invoices, ctx.mid, invoice_id), "invoice", body)
            assert qr_id is not None
            return _refund(ctx, store.own(store.qrs, ctx.mid, qr_id), "qr", body)

    return idempotent(ctx, "refund", make)


def list_refunds(ctx: Ctx) -> Reply:
    """GET /v1/refunds, optionally filtered by invoice_id or qr_id."""
    args = ctx.request.args
    invoice_id, qr_id = args.get("invoice_id"), args.get("qr_id")
    with ctx.store.lock:
        rows = [r for r in ctx.store.refunds.values() if r["merchant_id"] == ctx.mid]
        rows = [r for r in rows if invoice_id is None or r["invoice_id"] == invoice_id]
        rows = [r for r in rows if qr_id is None or r["qr_id"] == qr_id]
        rows.sort(key=lambda r: r["seq"], reverse=True)
        data = [refund_view(r) for r in rows]
    return 200, paginate(data, args, ctx.store.bug("page_size_ignored"))
