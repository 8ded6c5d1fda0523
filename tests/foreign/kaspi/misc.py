"""Merchant info, organisation check, catalog, units, subscriptions, session, logs and jobs."""

from __future__ import annotations

from .common import (
    ApiError,
    fmt_amount,
    get_amount,
    get_bool,
    get_phone,
    get_str,
    invalid,
    need_object,
    new_id,
    now_iso,
    paginate,
)
from .invoices import Reply
from .store import Ctx

UNITS = [
    {"code": "pcs", "name": "Штука"},
    {"code": "kg", "name": "Килограмм"},
    {"code": "g", "name": "Грамм"},
    {"code": "l", "name": "Литр"},
    {"code": "m", "name": "Метр"},
    {"code": "pack", "name": "Упаковка"},
    {"code": "service", "name": "Услуга"},
]
UNIT_CODES = {unit["code"] for unit in UNITS}
PERIODS = ("daily", "weekly", "monthly", "yearly")


def verify(ctx: Ctx) -> Reply:
    """POST /organizations/verify."""
    assert ctx.merchant is not None
    org = {"id": ctx.merchant.id, "name": ctx.merchant.name}
    return 200, {"valid": True, "organization": org}


def me(ctx: Ctx) -> Reply:
    """GET /v1/me."""
    m = ctx.merchant
    assert m is not None
    return 200, {"id": m.id, "name": m.name, "kaspi_connected": m.connected}


def kaspi_session(ctx: Ctx) -> Reply:
    """GET /v1/kaspi/session."""
    assert ctx.merchant is not None
    return 200, {"connected": ctx.merchant.connected, "checked_at": now_iso()}


def _own_rows(ctx: Ctx, rows: list[dict]) -> list[dict]:
    picked = [{k: v for k, v in row.items() if k != "merchant_id"} for row in rows]
    mine = [p for p, row in zip(picked, rows, strict=True) if row["merchant_id"] == ctx.mid]
    return mine[::-1]


def _page(ctx: Ctx, rows: list[dict]) -> Reply:
    return 200, paginate(rows, ctx.request.args, ctx.store.bug("page_size_ignored"))


def list_catalog(ctx: Ctx) -> Reply:
    """GET /v1/catalog."""
    with ctx.store.lock:
        return _page(ctx, _own_rows(ctx, ctx.store.catalog))


def create_catalog(ctx: Ctx) -> Reply:
    """POST /v1/catalog {"items": [{name, price, unit}]} -> 201 {"data": [...]}."""
    body = need_object(ctx.body())
    items = body.get("items")
    if not isinstance(items, list) or not items or len(items) > 100:
        raise invalid("items", "must be a non-empty array of at most 100 items")
    created = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"items[{index}]", "must be an object")
        try:
            name = get_str(item, "name", required=True, max_len=255)
            price = get_amount(item, "price")
            unit = get_str(item, "unit", required=False, max_len=20) or "pcs"
        except ApiError as exc:
            exc.details["field"] = f"items[{index}].{exc.details.get('field')}"
            raise
        if unit not in UNIT_CODES:
            raise invalid(f"items[{index}].unit", f"must be one of {', '.join(sorted(UNIT_CODES))}")
        assert price is not None
        created.append(
            {"id": new_id(), "merchant_id": ctx.mid, "name": name, "price": fmt_amount(price)}
            | {"unit": unit, "created_at": now_iso()}
        )
    with ctx.store.lock:
        ctx.store.catalog.extend(created)
        for row in created:
            ctx.store.audit(row["merchant_id"], "catalog_item.created", "catalog_item", row["id"])
    return 201, {"data": [{k: v for k, v in row.items() if k != "merchant_id"} for row in created]}


def list_units(ctx: Ctx) -> Reply:
    """GET /v1/catalog/units."""
    return _page(ctx, [dict(unit) for unit in UNITS])


def list_subscriptions(ctx: Ctx) -> Reply:
    """GET /v1/subscriptions."""
    with ctx.store.lock:
        return _page(ctx, _own_rows(ctx, ctx.store.subscriptions))


def create_subscription(ctx: Ctx) -> Reply:
    """POST /v1/subscriptions (SubscriptionCreate)."""
    body = need_object(ctx.body())
    amount = get_amount(body)
    assert amount is not None
    phone = get_phone(body)
    period = get_str(body, "billing_period", max_len=20) or "monthly"
    if period not in PERIODS:
        raise invalid("billing_period", f"must be one of {', '.join(PERIODS)}")
    sub = {
        "id": new_id(),
        "merchant_id": ctx.mid,
        "status": "active",
        "amount": fmt_amount(amount),
        "currency": "KZT",
        "phone_number": phone,
        "billing_period": period,
        "description": get_str(body, "description", max_len=1000) or "",
        "is_sandbox": get_bool(body, "is_sandbox", False),
        "created_at": now_iso(),
    }
    with ctx.store.lock:
        ctx.store.subscriptions.append(sub)
        ctx.store.audit(sub["merchant_id"], "subscription.created", "subscription", sub["id"])
    return 201, {k: v for k, v in sub.items() if k != "merchant_id"}


def list_audit_logs(ctx: Ctx) -> Reply:
    """GET /v1/audit-logs, newest first."""
    with ctx.store.lock:
        return _page(ctx, _own_rows(ctx, ctx.store.audit_logs))


def list_jobs(ctx: Ctx) -> Reply:
    """GET /v1/jobs: webhook deliveries and test plans, newest first."""
    with ctx.store.lock:
        return _page(ctx, _own_rows(ctx, list(ctx.store.jobs.values())))
