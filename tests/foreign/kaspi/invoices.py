"""Invoices: create (idempotent), list, read, cancel, status check and sandbox simulate."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import secrets
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from .common import (
    ApiError,
    get_amount,
    get_bool,
    get_phone,
    get_str,
    invalid,
    need_object,
    new_id,
    now_iso,
    paginate,
    query_bool,
)
from .models import INVOICE_STATUSES, apply_plan, invoice_view, set_invoice_status
from .store import Ctx

Reply = tuple[int, Any]
SIMULATED = {"paid": "paid", "canceled": "canceled", "failed": "canceled", "pending": "pending"}


def _fingerprint(scope: str, ctx: Ctx) -> str:
    try:
        canonical = json.dumps(ctx.body(), sort_keys=True, default=str).encode()
    except (ApiError, RecursionError, ValueError):
        canonical = ctx.raw
    return hashlib.sha256(scope.encode() + b"\0" + canonical).hexdigest()


def idempotent(ctx: Ctx, scope: str, make: Callable[[], Reply]) -> Reply:
    """Replay the first 2xx answer for a repeated Idempotency-Key (per merchant)."""
    key = ctx.request.headers.get("Idempotency-Key", "")
    if not key or ctx.merchant is None:
        return make()
    if len(key) > 255:
        raise invalid("Idempotency-Key", "must be at most 255 characters")
    store, slot, fingerprint = ctx.store, (ctx.merchant.id, key), _fingerprint(scope, ctx)
    with store.lock:
        seen = store.idempotency.get(slot)
        if seen is not None:
            if seen[0] != fingerprint:
                raise ApiError(
                    422,
                    "IDEMPOTENCY_MISMATCH",
                    "Idempotency-Key was already used with another request",
                    {"idempotency_key": key},
                )
            if not (scope == "invoice" and store.bug("replay_duplicates")):
                return seen[1], copy.deepcopy(seen[2])
        status, payload = make()
        if 200 <= status < 300 and seen is None:
            store.idempotency[slot] = (fingerprint, status, copy.deepcopy(payload))
        return status, payload


def _coerced_amount(body: dict[str, Any]) -> None:
    value = body.get("amount")
    if isinstance(value, str):
        with contextlib.suppress(InvalidOperation):
            body["amount"] = Decimal(value.strip())


def create_invoice(ctx: Ctx) -> Reply:
    """POST /v1/invoices."""
    store, merchant = ctx.store, ctx.merchant
    assert merchant is not None

    def make() -> Reply:
        body = need_object(ctx.body())
        if store.bug("string_amount_coerced"):
            _coerced_amount(body)
        amount = get_amount(body)
        phone = get_phone(body)
        description = get_str(body, "description", max_len=1000)
        external_order_id = get_str(body, "external_order_id", max_len=255)
        sandbox = get_bool(body, "is_sandbox", False)
        odd = description is not None and (description == "" or not description.isascii())
        if store.bug("crash_on_odd_input") and odd:
            raise UnicodeError(f"cannot render description {description!r}")
        if not merchant.connected and not store.bug("unconnected_creates"):
            raise ApiError(
                409, "KASPI_NOT_CONNECTED", "Kaspi is not connected", {"merchant_id": merchant.id}
            )
        kaspi_id = str(1_000_000_000 + secrets.randbelow(9_000_000_000))
        host = "sandbox.kaspi.kz" if sandbox else "pay.kaspi.kz"
        now = now_iso()
        inv = {
            "id": new_id(),
            "merchant_id": merchant.id,
            "seq": store.next_seq(),
            "external_order_id": external_order_id,
            "amount": amount,
            "refunded": Decimal("0.00"),
            "status": "pending",
            "description": description or "",
            "phone_number": phone,
            "kaspi_invoice_id": kaspi_id,
            "payment_url": f"https://{host}/pay/{kaspi_id}",
            "is_sandbox": sandbox,
            "created_at": now,
            "updated_at": now,
        }
        with store.lock:
            store.invoices[inv["id"]] = inv
            store.audit(merchant.id, "invoice.created", "invoice", inv["id"])
            apply_plan(store, "invoice", inv)
            view = invoice_view(store, inv)
        return (200 if store.bug("create_200") else 201), view

    return idempotent(ctx, "invoice", make)


def list_invoices(ctx: Ctx) -> Reply:
    """GET /v1/invoices with status, search, is_sandbox, page and page_size."""
    args = ctx.request.args
    status = args.get("status")
    if status is not None and status not in INVOICE_STATUSES:
        raise invalid("status", f"must be one of {', '.join(INVOICE_STATUSES)}")
    sandbox = query_bool(args, "is_sandbox")
    search = (args.get("search") or "").casefold()
    with ctx.store.lock:
        rows = [inv for inv in ctx.store.invoices.values() if inv["merchant_id"] == ctx.mid]
        rows.sort(key=lambda inv: inv["seq"], reverse=True)
        picked = []
        for inv in rows:
            if status is not None and inv["status"] != status:
                continue
            if sandbox is not None and inv["is_sandbox"] != sandbox:
                continue
            haystack = [inv["description"], inv["external_order_id"] or "", inv["phone_number"]]
            if search and not any(search in text.casefold() for text in haystack):
                continue
            picked.append(invoice_view(ctx.store, inv))
    return 200, paginate(picked, args, ctx.store.bug("page_size_ignored"))


def get_invoice(ctx: Ctx, id: str) -> Reply:
    """GET /v1/invoices/{id}."""
    store = ctx.store
    owner = None if store.bug("cross_merchant_read") else ctx.mid
    with store.lock:
        return 200, invoice_view(store, store.own(store.invoices, owner, id))


def cancel_invoice(ctx: Ctx, id: str) -> Reply:
    """POST /v1/invoices/{id}/cancel: pending or processing only."""
    store = ctx.store
    with store.lock:
        inv = store.own(store.invoices, ctx.mid, id)
        allowed = {"pending", "processing"}
        if store.bug("cancel_paid"):
            allowed.add("paid")
        if inv["status"] not in allowed:
            raise ApiError(
                409,
                "INVOICE_NOT_CANCELABLE",
                f"an invoice in status {inv['status']} cannot be canceled",
                {"id": id, "status": inv["status"]},
            )
        set_invoice_status(store, inv, "canceled", "cancel")
        return 200, invoice_view(store, inv)


def check_statuses(ctx: Ctx) -> Reply:
    """POST /v1/invoices/status/check {"ids": [...]} (unknown ids get status null)."""
    body = need_object(ctx.body()) if ctx.raw.strip() else {}
    ids = body.get("ids", [])
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise invalid("ids", "must be an array of strings")
    with ctx.store.lock:
        data = []
        for inv_id in ids:
            inv = ctx.store.invoices.get(inv_id)
            mine = inv is not None and inv["merchant_id"] == ctx.mid
            data.append({"id": inv_id, "status": inv["status"] if mine else None})
    return 200, {"data": data}


def simulate(ctx: Ctx, id: str) -> Reply:
    """POST /v1/sandbox/invoices/{id}/simulate (failed is stored as canceled)."""
    store = ctx.store
    body = need_object(ctx.body())
    wanted = body.get("status")
    if not isinstance(wanted, str) or wanted not in SIMULATED:
        raise invalid("status", "must be one of paid, canceled, failed, pending")
    with store.lock:
        inv = store.own(store.invoices, ctx.mid, id)
        if not inv["is_sandbox"] and not store.bug("sandbox_any_invoice"):
            raise ApiError(409, "NOT_SANDBOX", "only sandbox invoices can be simulated", {"id": id})
        set_invoice_status(store, inv, SIMULATED[wanted], "sandbox")
        return 200, invoice_view(store, inv)
