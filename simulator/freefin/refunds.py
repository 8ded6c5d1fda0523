"""freefin refunds: all or part of a succeeded payment, never more than what remains.

The remainder is read and written in the refund's own transaction (the store's write lock
orders racing refunders), and the payment moves to ``refunded`` when nothing remains.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from simulator.core import idempotency
from simulator.core.clock import iso
from simulator.core.errors import Conflict, Unprocessable
from simulator.core.runtime import Runtime
from simulator.core.store import Tx
from simulator.freefin import payments, rules
from simulator.freefin.models import Refund
from simulator.freefin.notify import emit
from simulator.freefin.terminals import Terminal, Terminals


def refund(
    rt: Runtime,
    terminals: Terminals,
    terminal: Terminal,
    payment_id: str,
    body: dict[str, Any],
    key: str | None,
) -> tuple[int, dict[str, Any]]:
    """Refund all or part of a succeeded payment; never more than what remains."""
    amount = body.get("amount") or 0
    rules.of(rt).check_refund_amount(amount)
    fp = idempotency.fingerprint("refundPayment", payment_id, body)
    with rt.store.tx(rows=True) as tx:

        def make() -> tuple[int, dict[str, Any]]:
            made = _new_refund(rt, tx, terminals, terminal, payment_id, amount, body)
            return 201, cast(dict[str, Any], made)

        status, refund_obj, _ = payments.once(rt, tx, terminal, "refundPayment", key, fp, make)
    return status, refund_obj


def _new_refund(
    rt: Runtime,
    tx: Tx,
    terminals: Terminals,
    terminal: Terminal,
    payment_id: str,
    amount: int,
    body: dict[str, Any],
) -> Refund:
    doc = payments.owned(rt, tx, terminal, payment_id)
    remainder = doc["amount"] - doc["amount_refunded"]
    if doc["status"] == "refunded":
        raise Conflict("the payment is already fully refunded", code="already_refunded")
    in_force = rules.of(rt)
    if not in_force.refundable(doc["status"]):
        raise Conflict(f"a {doc['status']} payment cannot be refunded", code="not_succeeded")
    amount = amount or remainder
    if not in_force.within_remainder(amount, remainder):
        raise Unprocessable(
            f"amount {amount} is more than the refundable {remainder}",
            code="amount_exceeds_remainder",
        )
    now = rt.clock.now()
    refund_obj: Refund = {
        "id": str(uuid.uuid4()),
        "payment_id": payment_id,
        "merchant_id": doc["merchant_id"],
        "amount": amount,
        "status": "succeeded",
        "created_at": iso(now),
        "completed_at": iso(now),
    }
    if "reason" in body:
        refund_obj["reason"] = body["reason"]
    doc["refunds"].append(refund_obj)
    doc["amount_refunded"] += amount
    tx.update(payments.KIND, payment_id, doc)
    emit(rt, tx, terminal, ["payment.refunded"], payments.render(doc, rt), doc.get("_webhook_url"))
    if doc["amount_refunded"] >= doc["amount"]:
        payments.move(rt, tx, terminals, doc, "refunded")
    return refund_obj
