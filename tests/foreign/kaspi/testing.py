"""Unauthenticated test endpoints (outside the API prefix, never rate limited)."""

from __future__ import annotations

from decimal import Decimal

from .common import ApiError, need_object
from .invoices import Reply
from .models import invoice_view, set_invoice_status
from .store import Ctx

MOVABLE = ("paid", "canceled", "processing", "pending")
PLANNABLE = {"invoice": MOVABLE, "qr": ("paid", "canceled", "pending")}
MAX_AFTER_MS = 600_000


def _unsupported(message: str) -> ApiError:
    return ApiError(422, "UNSUPPORTED", message)


def move_invoice(ctx: Ctx, id: str) -> Reply:
    """POST /testing/invoices/{id}/status {"status"}: move any invoice now."""
    body = need_object(ctx.body())
    store = ctx.store
    with store.lock:
        inv = store.own(store.invoices, None, id)
        status = body.get("status")
        if not isinstance(status, str) or status not in MOVABLE:
            raise _unsupported(f"status must be one of {', '.join(MOVABLE)}")
        set_invoice_status(store, inv, status, "testing")
        return 200, invoice_view(store, inv)


def queue_plan(ctx: Ctx) -> Reply:
    """POST /testing/plans {"object", "status", "after_ms"}: plan the next object's fate."""
    body = need_object(ctx.body())
    kind, status = body.get("object"), body.get("status")
    if not isinstance(kind, str) or kind not in PLANNABLE:
        raise _unsupported("object must be invoice or qr")
    if not isinstance(status, str) or status not in PLANNABLE[kind]:
        raise _unsupported(f"status must be one of {', '.join(PLANNABLE[kind])}")
    after = body.get("after_ms", Decimal(0))
    if not isinstance(after, Decimal) or not after.is_finite():
        raise _unsupported("after_ms must be a number")
    if not 0 <= after <= MAX_AFTER_MS or after != after.to_integral_value():
        raise _unsupported(f"after_ms must be an integer between 0 and {MAX_AFTER_MS}")
    with ctx.store.lock:
        ctx.store.plans[kind].append((status, int(after)))
        queued = len(ctx.store.plans[kind])
    return 201, {"object": kind, "status": status, "after_ms": int(after), "queued": queued}


def counts(ctx: Ctx) -> Reply:
    """GET /testing/counts: what each merchant has, webhook endpoints and deliveries included
    (what a test run leaves behind)."""
    store = ctx.store
    tables = {
        "invoices": store.invoices,
        "qrs": store.qrs,
        "refunds": store.refunds,
        "webhooks": store.webhooks,
        "deliveries": store.deliveries,
    }
    with store.lock:
        found: dict[str, dict[str, int]] = {}
        for name, rows in tables.items():
            for row in rows.values():
                mine = found.setdefault(str(row.get("merchant_id")), dict.fromkeys(tables, 0))
                mine[name] += 1
        attempts = sum(int(d.get("attempts") or 0) for d in store.deliveries.values())
    return 200, {"merchants": found, "delivery_attempts": attempts}
