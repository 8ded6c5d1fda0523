"""Subscriptions: each billing period, on the simulated clock, issues the subscriber an invoice.

The first period is billed when the subscription is created; a timer bills the next one at
the same time of day one period later (calendar months and years, clamped to the month's end).
Each period's invoice gets its outcome like any other (queue, magic values, default).
"""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from simulator.core.clock import iso
from simulator.core.runtime import Runtime
from simulator.core.store import Tx
from simulator.kaspi import audit, invoices, money, paging, rules
from simulator.kaspi.merchants import Merchant, Merchants, require_connected, session
from simulator.kaspi.models import StoredSubscription
from simulator.kaspi.notify import emit
from simulator.kaspi.outcomes import plan_for

KIND = invoices.SUBSCRIPTION_KIND
PERIODS = ("daily", "weekly", "monthly", "yearly")


def next_period(ts: float, period: str) -> float:
    """``ts`` moved one billing period forward."""
    at = datetime.fromtimestamp(ts, UTC)
    if period == "daily":
        return (at + timedelta(days=1)).timestamp()
    if period == "weekly":
        return (at + timedelta(weeks=1)).timestamp()
    months = 1 if period == "monthly" else 12
    year, month = divmod(at.month - 1 + months, 12)
    year, month = at.year + year, month + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day).timestamp()


def create(rt: Runtime, merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    """A new active subscription; its first period is billed at once."""
    tiyn = money.to_tiyn(body["amount"])
    period = body.get("billing_period", "monthly")
    if period not in PERIODS:
        raise money.validation_error("billing_period", f"must be one of {', '.join(PERIODS)}")
    now = rt.clock.now()
    sub_id = "sub_" + uuid.uuid4().hex[:16]
    doc: StoredSubscription = {
        "id": sub_id,
        "phone_number": body["phone_number"],
        "amount": money.render(tiyn),
        "currency": money.CURRENCY,
        "billing_period": period,
        "description": body.get("description", ""),
        "is_sandbox": bool(body.get("is_sandbox")),
        "status": "active",
        "periods_billed": 0,
        "last_invoice_id": None,
        "last_payment_status": None,
        "next_billing_at": iso(now),
        "created_at": iso(now),
        "updated_at": iso(now),
        "_merchant": merchant.id,
        "_amount": tiyn,
    }
    with rt.store.tx() as tx:
        require_connected(rules.of(rt), tx, merchant)
        tx.insert(KIND, sub_id, merchant.id, doc)
        emit(rt, tx, merchant.id, ["subscription.created"], paging.strip(doc))
        audit.record(
            rt,
            tx,
            merchant.id,
            merchant.actor,
            "subscription.create",
            "subscription",
            sub_id,
            {"amount": doc["amount"], "billing_period": period},
        )
        bill(rt, tx, merchant, doc, now)
    return paging.strip(doc)


def bill(rt: Runtime, tx: Tx, merchant: Merchant, doc: StoredSubscription, due: float) -> None:
    """Bill the period that starts at ``due`` and plan the next one."""
    number = doc["periods_billed"] + 1
    failure = None
    invoice_id = None
    if not session(tx, merchant)["connected"]:
        failure = "kaspi_not_connected"
    else:
        plan = plan_for(rt, merchant, "invoice", doc["_amount"], doc["description"])
        if plan.outcome == "refused":
            failure = "kaspi_refused"
        else:
            body = {
                "phone_number": doc["phone_number"],
                "description": doc["description"],
                "is_sandbox": doc["is_sandbox"],
                "external_order_id": f"{doc['id']}-{number}",
            }
            invoice_id = invoices.new(
                rt, tx, merchant, "invoice", doc["_amount"], body, plan, subscription_id=doc["id"]
            )["id"]
            doc["last_invoice_id"] = invoice_id
    if failure:  # no invoice this period: it is missed, not retried
        doc["last_payment_status"] = "failed"
    doc["periods_billed"] = number
    following = next_period(due, doc["billing_period"])
    doc["next_billing_at"] = iso(following)
    doc["updated_at"] = iso(rt.clock.now())
    tx.update(KIND, doc["id"], doc)
    tx.add_timer(following, "kaspi", "subscription.bill", doc["id"])
    event = {**paging.strip(doc), "invoice_id": invoice_id}
    if failure:
        event["failure_reason"] = failure
    emit(
        rt,
        tx,
        merchant.id,
        ["subscription.payment_failed" if failure else "subscription.billed"],
        event,
    )
    audit.record(
        rt,
        tx,
        merchant.id,
        audit.SYSTEM,
        "subscription.bill",
        "subscription",
        doc["id"],
        {"invoice_id": invoice_id, "period": number, "failure": failure},
    )


def listing(rt: Runtime, merchant: Merchant, args: dict[str, str]) -> dict[str, Any]:
    where, params = paging.equal_filters(
        rt.store, args, ("status", "billing_period", "phone_number")
    )
    return paging.page(rt, KIND, merchant.id, args, where, params)


def register_timers(rt: Runtime, merchants: Merchants) -> None:
    def due(tx: Tx, sub_id: str, _arg: str, due_at: float) -> None:
        doc = cast(StoredSubscription | None, tx.get(KIND, sub_id))
        if doc and doc["status"] == "active" and rules.of(rt).bills():
            bill(rt, tx, merchants.by_id[doc["_merchant"]], doc, due_at)

    rt.scheduler.register("kaspi", "subscription.bill", due)
