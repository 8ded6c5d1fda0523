"""Sandbox simulate: drive a sandbox invoice to paid, canceled or failed now, or hold it pending."""

from __future__ import annotations

from typing import Any

from simulator.core.clock import iso
from simulator.core.errors import Conflict
from simulator.core.runtime import Runtime
from simulator.kaspi import audit, paging, rules
from simulator.kaspi.invoices import KINDS, move, owned
from simulator.kaspi.merchants import Merchant

SIMULATED = {
    "paid": ("paid", None),
    "canceled": ("canceled", None),
    "failed": ("canceled", "simulated_failure"),
}


def simulate(rt: Runtime, merchant: Merchant, doc_id: str, status: str) -> dict[str, Any]:
    """Sandbox: drive a sandbox invoice to paid, canceled or failed now, or hold it pending."""
    with rt.store.tx() as tx:
        doc = owned(rt, tx, merchant, "invoice", doc_id)
        in_force = rules.of(rt)
        if not in_force.simulates(doc["is_sandbox"]):
            raise Conflict("only sandbox invoices can be simulated", code="not_sandbox")
        if status == "pending":
            if doc["status"] != "pending":
                raise Conflict(
                    f"a {doc['status']} invoice cannot become pending",
                    code="invalid_status",
                    details={"status": doc["status"]},
                )
            if in_force.simulated_pending_holds():
                doc["_plan"] = {"outcome": "pending", "reason": None, "delay_ms": 0}
            doc["updated_at"] = iso(rt.clock.now())
            tx.update(KINDS["invoice"], doc_id, doc)
        else:
            target, reason = SIMULATED[status]
            move(rt, tx, doc, target, reason)
        audit.record(
            rt,
            tx,
            merchant.id,
            merchant.actor,
            "invoice.simulate",
            "invoice",
            doc_id,
            {"status": status},
        )
    return paging.strip(doc)
