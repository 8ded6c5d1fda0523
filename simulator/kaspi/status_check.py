"""POST /v1/invoices/status/check: each invoice's status, and as Kaspi itself words it."""

from __future__ import annotations

from typing import Any

from simulator.core.clock import iso
from simulator.core.errors import NotFound
from simulator.core.runtime import Runtime
from simulator.kaspi import money, rules
from simulator.kaspi.invoices import MAX_STATUS_CHECK_IDS, obj_of, owned
from simulator.kaspi.merchants import Merchant, require_connected
from simulator.kaspi.models import StoredPayable


def check_statuses(rt: Runtime, merchant: Merchant, ids: list[str]) -> dict[str, Any]:
    """Each id's status; ids that are unknown (or another merchant's) reported as not found."""
    if len(ids) > MAX_STATUS_CHECK_IDS:
        raise money.validation_error("ids", f"at most {MAX_STATUS_CHECK_IDS} ids")
    items = []
    with rt.store.read() as tx:
        in_force = rules.of(rt)
        require_connected(in_force, tx, merchant)
        for doc_id in ids:
            try:
                doc = owned(rt, tx, merchant, obj_of(doc_id), doc_id)
            except NotFound:
                found = in_force.found_unknown()
                items.append(
                    {
                        "id": doc_id,
                        "found": found,
                        "status": None,
                        "kaspi_status": None,
                        "updated_at": None,
                    }
                )
                continue
            items.append(
                {
                    "id": doc_id,
                    "found": True,
                    "status": doc["status"],
                    "kaspi_status": _kaspi_status(doc),
                    "updated_at": doc["updated_at"],
                }
            )
    return {
        "items": items,
        "checked_at": iso(rt.clock.now()),
        "not_found": [i["id"] for i in items if not i["found"]],
    }


def _kaspi_status(doc: StoredPayable) -> str:
    """The status as Kaspi itself words it."""
    if doc["status"] == "canceled" and doc["failure_reason"]:
        return "Error"
    return {
        "pending": "Wait",
        "processing": "Processing",
        "paid": "Processed",
        "canceled": "Canceled",
        "refunded": "Returned",
    }[doc["status"]]
