"""Public views of invoices, QRs and refunds, and their status transitions."""

from __future__ import annotations

from typing import Any

from .common import fmt_amount, now_iso
from .store import Store

INVOICE_STATUSES = ("pending", "processing", "paid", "canceled", "refunded")
QR_STATUSES = ("pending", "paid", "canceled", "refunded")


def invoice_view(store: Store, inv: dict[str, Any]) -> dict[str, Any]:
    """The seed's Invoice object (amount as a two-decimal string)."""
    amount: Any = fmt_amount(inv["amount"])
    if store.bug("amount_as_number"):
        amount = float(inv["amount"])
    return {
        "id": inv["id"],
        "external_order_id": inv["external_order_id"],
        "amount": amount,
        "currency": "KZT",
        "status": inv["status"],
        "description": inv["description"],
        "phone_number": inv["phone_number"],
        "kaspi_invoice_id": inv["kaspi_invoice_id"],
        "payment_url": inv["payment_url"],
        "is_sandbox": inv["is_sandbox"],
        "created_at": inv["created_at"],
        "updated_at": inv["updated_at"],
    }


def qr_view(qr: dict[str, Any]) -> dict[str, Any]:
    """A Kaspi QR object."""
    keys = ("id", "currency", "status", "qr_payload", "comment", "external_order_id")
    view = {key: qr[key] for key in keys}
    view.update(
        amount=fmt_amount(qr["amount"]),
        is_sandbox=qr["is_sandbox"],
        created_at=qr["created_at"],
        updated_at=qr["updated_at"],
    )
    return view


def refund_view(refund: dict[str, Any]) -> dict[str, Any]:
    """A refund object (invoice_id or qr_id set, the other null)."""
    return {
        "id": refund["id"],
        "invoice_id": refund["invoice_id"],
        "qr_id": refund["qr_id"],
        "amount": fmt_amount(refund["amount"]),
        "currency": "KZT",
        "status": refund["status"],
        "reason": refund["reason"],
        "created_at": refund["created_at"],
    }


def set_invoice_status(store: Store, inv: dict[str, Any], status: str, source: str) -> None:
    """Move an invoice; on a real change audit it and emit invoice.status_changed."""
    with store.lock:
        if inv["status"] == status:
            return
        inv["status"] = status
        inv["updated_at"] = now_iso()
        store.audit(
            inv["merchant_id"],
            "invoice.status_changed",
            "invoice",
            inv["id"],
            status=status,
            by=source,
        )
        store.emit(inv["merchant_id"], "invoice.status_changed", invoice_view(store, inv))


def set_qr_status(store: Store, qr: dict[str, Any], status: str, source: str) -> None:
    """Move a QR (no webhook event: the seed names invoice events only)."""
    with store.lock:
        if qr["status"] != status:
            qr["status"] = status
            qr["updated_at"] = now_iso()
            store.audit(
                qr["merchant_id"], "qr.status_changed", "qr", qr["id"], status=status, by=source
            )


def apply_plan(store: Store, kind: str, obj: dict[str, Any]) -> None:
    """Give a freshly created invoice/QR the next queued test plan, if any."""
    with store.lock:
        queue = store.plans[kind]
        if not queue:
            return
        status, after_ms = queue.popleft()
        if status == "pending":
            return
        job = store.add_job(obj["merchant_id"], f"{kind}.status_plan", obj["id"])

    def fire() -> None:
        with store.lock:
            if obj["status"] in ("pending", "processing"):
                if kind == "invoice":
                    set_invoice_status(store, obj, status, "plan")
                else:
                    set_qr_status(store, obj, status, "plan")
                store.update_job(job["id"], "succeeded", 1)
            else:
                store.update_job(job["id"], "skipped", 1)

    store.later(after_ms / 1000.0, fire)
