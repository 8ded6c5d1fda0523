"""Refunds of paid invoices and QR payments: full or partial, never above what remains.

The remainder is read and written in the refund's own ``BEGIN IMMEDIATE`` transaction, so
concurrent refunds of one invoice are serialized and their sum never exceeds the amount.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from simulator.core import idempotency
from simulator.core.clock import iso
from simulator.core.errors import Conflict
from simulator.core.runtime import Runtime
from simulator.core.store import Tx
from simulator.kaspi import audit, invoices, money, paging, rules
from simulator.kaspi.merchants import Merchant, require_connected
from simulator.kaspi.models import Refund, StoredRefund
from simulator.kaspi.notify import emit

KIND = "kp_refund"
MAX_REASON = 500


def parse(body: dict[str, Any]) -> tuple[int | None, str | None]:
    """(tiyn or None for the whole remainder, reason) of a refund request; 400 otherwise."""
    amount = body.get("amount")
    tiyn = None if amount is None else money.to_tiyn(amount)
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise money.validation_error("reason", f"must be a string of at most {MAX_REASON}")
    return tiyn, reason


def target_of(body: dict[str, Any]) -> tuple[str, str]:
    """POST /v1/refunds names exactly one of ``invoice_id`` and ``qr_id``: (obj, id)."""
    named = [(obj, body[f"{obj}_id"]) for obj in ("invoice", "qr") if f"{obj}_id" in body]
    if len(named) != 1:
        raise money.validation_error("invoice_id", "give exactly one of invoice_id and qr_id")
    obj, doc_id = named[0]
    if not isinstance(doc_id, str) or not doc_id:
        raise money.validation_error(f"{obj}_id", "must be a non-empty string")
    return obj, doc_id


def create(
    rt: Runtime,
    merchant: Merchant,
    obj: str,
    doc_id: str,
    body: dict[str, Any],
    key: str | None,
) -> tuple[int, dict[str, Any], bool]:
    """Refund all or part of a paid invoice or QR: (status, refund, replayed)."""
    tiyn, reason = parse(body)
    fp = idempotency.fingerprint("refund", obj, doc_id, body)
    with rt.store.tx(rows=True) as tx:

        def make() -> tuple[int, dict[str, Any]]:
            return 201, cast(dict[str, Any], _refund(rt, tx, merchant, obj, doc_id, tiyn, reason))

        return idempotency.execute(
            tx,
            scope=invoices.scope(rt, merchant, "refund"),
            key=key,
            fp=fp,
            now=rt.clock.now(),
            ttl=rt.idempotency_ttl_s,
            create=make,
            conflict=invoices.idempotency_conflict(),
            skip_lookup=not rules.of(rt).replays(),
        )


def _refund(
    rt: Runtime,
    tx: Tx,
    merchant: Merchant,
    obj: str,
    doc_id: str,
    tiyn: int | None,
    reason: str | None,
) -> Refund:
    doc = invoices.owned(rt, tx, merchant, obj, doc_id)
    in_force = rules.of(rt)
    require_connected(in_force, tx, merchant)
    forced = doc["status"] != "paid"  # only where the rules let another status be refunded
    if not in_force.refundable(doc["status"]):
        if doc["status"] == "refunded":
            raise Conflict(f"the {obj} is already fully refunded", code="already_refunded")
        raise Conflict(
            f"a {doc['status']} {obj} cannot be refunded",
            code="not_paid",
            details={"status": doc["status"]},
        )
    remainder = doc["_amount"] - doc["_refunded"]
    amount = remainder if tiyn is None else tiyn
    if not in_force.within_remainder(amount, remainder):
        raise Conflict(
            f"amount {money.render(amount)} is more than the refundable {money.render(remainder)}",
            code="amount_exceeds_remainder",
            details={"refundable": money.render(remainder)},
        )
    now = iso(rt.clock.now())
    refund_id = "rfd_" + uuid.uuid4().hex[:16]
    refund: StoredRefund = {
        "id": refund_id,
        "invoice_id": doc_id if obj == "invoice" else None,
        "qr_id": doc_id if obj == "qr" else None,
        "amount": money.render(amount),
        "currency": money.CURRENCY,
        "status": "completed",
        "reason": reason,
        "kaspi_refund_id": str(uuid.uuid4().int)[:12],
        "created_at": now,
        "_amount": amount,
    }
    tx.insert(KIND, refund_id, merchant.id, refund)
    doc["_refunded"] += amount
    doc["refunded_amount"] = money.render(doc["_refunded"])
    doc["updated_at"] = now
    tx.update(invoices.KINDS[obj], doc_id, doc)
    emit(rt, tx, merchant.id, [f"{obj}.refunded"], paging.strip(doc))
    if doc["_refunded"] >= doc["_amount"] and doc["status"] != "refunded":
        invoices.move(rt, tx, doc, "refunded", force=forced)
    audit.record(
        rt,
        tx,
        merchant.id,
        merchant.actor,
        f"{obj}.refund",
        obj,
        doc_id,
        {"refund_id": refund_id, "amount": refund["amount"]},
    )
    return cast(Refund, paging.strip(refund))


def listing(rt: Runtime, merchant: Merchant, args: dict[str, str]) -> dict[str, Any]:
    """Refunds newest first, by ``invoice_id`` or ``qr_id``, paged."""
    where, params = paging.equal_filters(rt.store, args, ("invoice_id", "qr_id"))
    return paging.page(rt, KIND, merchant.id, args, where, params)
