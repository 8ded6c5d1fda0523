"""Payments: creation with a planned outcome, the state machine, cancel and refunds.

Stored documents are the API's Payment objects plus private fields (``_``-prefixed) that are
stripped when rendered. Amounts are integers of kopecks throughout.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from simulator.core import idempotency
from simulator.core.clock import iso
from simulator.core.errors import ApiError, BadRequest, Conflict, NotFound
from simulator.core.lifecycle import Lifecycle
from simulator.core.outcomes import Plan, parse
from simulator.core.runtime import Runtime
from simulator.core.store import Tx
from simulator.freefin import customers, rules
from simulator.freefin.models import Payment, StoredPayment
from simulator.freefin.notify import emit
from simulator.freefin.terminals import PAYMENT_OUTCOMES, Terminal, Terminals

KIND = "ff_payment"
EXPIRES_AFTER_S = 15 * 60
PROCESSING_WINDOW_S = 10 * 60
USDT_RUB = 92.5
FINAL = ("succeeded", "failed", "expired", "cancelled", "refunded")
LIFECYCLE = Lifecycle(
    "payment",
    {
        "pending": ("processing", "expired", "cancelled"),
        "processing": ("succeeded", "failed"),
        "succeeded": ("refunded",),
    },
    specific=("succeeded", "failed", "expired", "cancelled"),
)
# Magic amounts, like test cards: the amount alone decides the outcome.
MAGIC_AMOUNTS = {
    1313: "failed:card_declined",
    1414: "failed:insufficient_funds",
    1515: "expired",
    1616: "pending",
    1717: "processing",
}


def idempotent_conflict() -> ApiError:
    return Conflict(
        "Idempotency-Key was used with another request body", code="idempotent_conflict"
    )


def idem_scope(rt: Runtime, terminal: Terminal, operation: str) -> str:
    """An Idempotency-Key's scope, as the rules say (the terminal and the operation)."""
    return rules.of(rt).idempotency_scope(terminal.id, operation)


def once(
    rt: Runtime,
    tx: Tx,
    terminal: Terminal,
    operation: str,
    key: str | None,
    fp: str,
    create: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """``create`` once per Idempotency-Key of the terminal and operation: (status, body,
    replayed), by the shared idempotency store with freefin's scope, conflict and defects."""
    return idempotency.execute(
        tx,
        scope=idem_scope(rt, terminal, operation),
        key=key,
        fp=fp,
        now=rt.clock.now(),
        ttl=rt.idempotency_ttl_s,
        create=create,
        conflict=idempotent_conflict(),
        skip_lookup=not rules.of(rt).replays(),
    )


def load(tx: Tx, payment_id: str) -> StoredPayment | None:
    """The stored payment ``payment_id``, or None."""
    return cast(StoredPayment | None, tx.get(KIND, payment_id))


def render(doc: StoredPayment, rt: Runtime) -> Payment:
    out = cast(Payment, {k: v for k, v in doc.items() if not k.startswith("_")})
    out["refunds"] = [r.copy() for r in doc.get("refunds", [])]
    return rules.of(rt).render_payment(out)


def plan_for(rt: Runtime, terminal: Terminal, body: dict[str, Any]) -> Plan:
    queued = rt.control.pop_outcome("freefin", "payment", terminal.merchant_id)
    if queued:
        return queued
    meta = body.get("metadata") or {}
    default = terminal.default_plan
    try:
        delay = int(meta.get("sim_delay_ms", default.delay_ms))
        if "sim_outcome" in meta:
            return parse(meta["sim_outcome"], PAYMENT_OUTCOMES, delay)
        if body["amount"] in MAGIC_AMOUNTS:
            return parse(MAGIC_AMOUNTS[body["amount"]], PAYMENT_OUTCOMES, delay)
        return parse(
            default.outcome + (f":{default.reason}" if default.reason else ""),
            PAYMENT_OUTCOMES,
            delay,
        )
    except ValueError as exc:
        raise BadRequest(f"metadata: {exc}") from exc


def create(
    rt: Runtime,
    terminal: Terminal,
    body: dict[str, Any],
    key: str | None,
    base_url: str,
) -> tuple[int, dict[str, Any]]:
    """Create a payment (or replay it for a known Idempotency-Key): (status, response)."""
    plan = plan_for(rt, terminal, body)
    fp = idempotency.fingerprint("createPayment", body)

    with rt.store.tx(rows=True) as tx:
        created: list[StoredPayment] = []

        def make() -> tuple[int, dict[str, Any]]:
            created.append(_new_payment(rt, tx, terminal, body, plan))
            return 201, {"payment_id": created[0]["id"], "simulator": plan.describe()}

        status, stored, replayed = once(rt, tx, terminal, "createPayment", key, fp, make)
        doc = created[0] if created else load(tx, stored["payment_id"])
    assert doc is not None
    response = {
        "payment": render(doc, rt),
        "payment_url": f"{base_url}pay/{doc['id']}",
        "mode": "test",
        "idempotent": replayed,
        "simulator": stored["simulator"],
    }
    return (200 if replayed else status), response


def _new_payment(
    rt: Runtime,
    tx: Tx,
    terminal: Terminal,
    body: dict[str, Any],
    plan: Plan,
) -> StoredPayment:
    now = rt.clock.now()
    pid = str(uuid.uuid4())
    expires = now + (
        plan.delay_ms / 1000
        if plan.outcome == "expired" and "sim_delay_ms" in (body.get("metadata") or {})
        else EXPIRES_AFTER_S
    )
    doc: StoredPayment = {
        "id": pid,
        "merchant_id": terminal.merchant_id,
        "terminal_id": terminal.id,
        "terminal_name": terminal.name,
        "amount": body["amount"],
        "amount_refunded": 0,
        "amount_usdt": round(body["amount"] / 100 / USDT_RUB, 2),
        "currency": body.get("currency", "RUB"),
        "method": body.get("method", "any"),
        "status": "pending",
        "created_at": iso(now),
        "expires_at": iso(expires),
        "metadata": dict(body.get("metadata") or {}),
        "refunds": [],
        "_plan": {"outcome": plan.outcome, "reason": plan.reason, "delay_ms": plan.delay_ms},
        "_webhook_url": body.get("webhook_url"),
    }
    for field in ("order_id", "customer_id", "return_url", "description"):
        if field in body:
            doc[field] = body[field]
    tx.insert(KIND, pid, terminal.merchant_id, doc)
    if plan.outcome in ("succeeded", "failed", "processing"):
        tx.add_timer(now + plan.delay_ms / 2000, "freefin", "payment.process", pid)
    tx.add_timer(expires, "freefin", "payment.expire", pid)
    emit(rt, tx, terminal, ["payment.created"], render(doc, rt), doc["_webhook_url"])
    return doc


def get(rt: Runtime, terminal: Terminal, payment_id: str) -> Payment:
    with rt.store.read() as tx:
        doc = load(tx, payment_id)
    in_force = rules.of(rt)
    if (
        doc is None
        or not in_force.visible(doc["merchant_id"], terminal.merchant_id)
        or not in_force.readable(_created(doc), rt.clock.now())
    ):
        raise NotFound("payment not found", code="not_found")
    return render(doc, rt)


def _created(doc: StoredPayment) -> float:
    return datetime.fromisoformat(doc["created_at"].replace("Z", "+00:00")).timestamp()


def move(
    rt: Runtime,
    tx: Tx,
    terminals: Terminals,
    doc: StoredPayment,
    status: str,
    reason: str | None = None,
    force: bool = False,
) -> None:
    """A payment's move: its timestamps, customer and failure code, then its events."""
    LIFECYCLE.enter(doc, status, force)
    now = rt.clock.now()
    if status == "processing":
        planned = doc["_plan"]["outcome"] in ("succeeded", "failed")
        doc["processing_until"] = iso(_finalize_at(doc) if planned else now + PROCESSING_WINDOW_S)
        doc.update(customers.customer(doc["id"], doc["method"]))
    elif status == "succeeded":
        doc["captured_at"] = iso(now)
        doc["rrn"] = customers.rrn(doc["id"])
        doc["bank_name"] = "freefin test acquirer"
    if status == "failed":
        doc["failure_code"] = reason or "declined"
    if status in FINAL:
        doc["finalized_at"] = iso(now)
    tx.update(KIND, doc["id"], doc)
    terminal = terminals.by_id[doc["terminal_id"]]
    emit(
        rt,
        tx,
        terminal,
        LIFECYCLE.events("payment", status),
        render(doc, rt),
        doc.get("_webhook_url"),
    )


def _finalize_at(doc: StoredPayment) -> float:
    plan = doc["_plan"]
    return _created(doc) + plan["delay_ms"] / 1000


def cancel(rt: Runtime, terminals: Terminals, terminal: Terminal, payment_id: str) -> Payment:
    with rt.store.tx(rows=True) as tx:
        doc = owned(rt, tx, terminal, payment_id)
        if not rules.of(rt).cancelable(doc["status"]):
            raise Conflict("only a pending payment can be cancelled", code="not_pending")
        move(rt, tx, terminals, doc, "cancelled", force=True)
    return render(doc, rt)


def owned(rt: Runtime, tx: Tx, terminal: Terminal, payment_id: str) -> StoredPayment:
    doc = load(tx, payment_id)
    if doc is None or not rules.of(rt).visible(doc["merchant_id"], terminal.merchant_id):
        raise NotFound("payment not found", code="not_found")
    return doc


def register_timers(rt: Runtime, terminals: Terminals) -> None:
    """Planned transitions: processing, then the planned final status; expiry if still pending."""

    def process(tx: Tx, pid: str, _arg: str, _due: float) -> None:
        doc = load(tx, pid)
        if doc and doc["status"] == "pending":
            move(rt, tx, terminals, doc, "processing")
            if doc["_plan"]["outcome"] in ("succeeded", "failed"):
                tx.add_timer(_finalize_at(doc), "freefin", "payment.finalize", pid)

    def finalize(tx: Tx, pid: str, _arg: str, _due: float) -> None:
        doc = load(tx, pid)
        if doc and doc["status"] == "processing":
            plan = doc["_plan"]
            move(rt, tx, terminals, doc, plan["outcome"], plan.get("reason"))

    def expire(tx: Tx, pid: str, _arg: str, _due: float) -> None:
        doc = load(tx, pid)
        if doc and doc["status"] == "pending" and rules.of(rt).expires():
            move(rt, tx, terminals, doc, "expired")

    rt.scheduler.register("freefin", "payment.process", process)
    rt.scheduler.register("freefin", "payment.finalize", finalize)
    rt.scheduler.register("freefin", "payment.expire", expire)


def force(
    rt: Runtime, terminals: Terminals, payment_id: str, status: str, reason: str | None = None
) -> Payment:
    """Control API: reach ``status`` now, through processing when it lies on the way."""
    with rt.store.tx(rows=True) as tx:
        doc = load(tx, payment_id)
        if doc is None:
            raise NotFound("payment not found")
        if status in ("succeeded", "failed") and doc["status"] == "pending":
            move(rt, tx, terminals, doc, "processing")
        move(rt, tx, terminals, doc, status, reason)
    return render(doc, rt)
