"""SBP payouts: the recipient's bank must be in the directory; pending -> succeeded / failed."""

from __future__ import annotations

import uuid
from typing import Any, cast

from simulator.core import idempotency
from simulator.core.clock import iso
from simulator.core.errors import NotFound, Unprocessable
from simulator.core.lifecycle import Lifecycle
from simulator.core.outcomes import Plan, parse
from simulator.core.runtime import Runtime
from simulator.core.store import Tx
from simulator.freefin import rules
from simulator.freefin.models import Payout, Recipient, StoredPayout
from simulator.freefin.notify import emit
from simulator.freefin.payments import once
from simulator.freefin.terminals import Terminal, Terminals

KIND = "ff_payout"
PAYOUT_OUTCOMES = ("succeeded", "failed", "pending")
DEFAULT_PLAN = Plan("succeeded", None, 1000)
# A payout moves once, from pending (control transitions may also hold it pending).
LIFECYCLE = Lifecycle(
    "payout",
    {"pending": ("succeeded", "failed", "pending")},
    specific=("succeeded", "failed", "pending"),
)
# Magic recipient phones decide the outcome, like test cards.
MAGIC_PHONES = {
    "+79990000001": "failed:recipient_not_found",
    "+79990000002": "failed:limit_exceeded",
    "+79990000003": "pending",
}


def load(tx: Tx, payout_id: str) -> StoredPayout | None:
    """The stored payout ``payout_id``, or None."""
    return cast(StoredPayout | None, tx.get(KIND, payout_id))


def render(doc: StoredPayout) -> Payout:
    return cast(Payout, {k: v for k, v in doc.items() if not k.startswith("_")})


def create(
    rt: Runtime,
    terminal: Terminal,
    body: dict[str, Any],
    key: str | None,
) -> tuple[int, dict[str, Any]]:
    if not rules.of(rt).payout_bank_accepted(body["bank_id"]):
        raise Unprocessable(
            f"bank {body['bank_id']} is not an SBP participant here", code="bank_not_supported"
        )
    plan = rt.control.pop_outcome("freefin", "payout", terminal.merchant_id)
    if plan is None:
        magic = MAGIC_PHONES.get(body["phone"])
        plan = parse(magic, PAYOUT_OUTCOMES, DEFAULT_PLAN.delay_ms) if magic else DEFAULT_PLAN
    fp = idempotency.fingerprint("createPayout", body)
    with rt.store.tx(rows=True) as tx:

        def make() -> tuple[int, dict[str, Any]]:
            doc = _new_payout(rt, tx, terminal, body, plan)
            return 201, {"payout_id": doc["id"], "simulator": plan.describe()}

        status, stored, replayed = once(rt, tx, terminal, "createPayout", key, fp, make)
        doc = load(tx, stored["payout_id"])
    assert doc is not None
    response = {
        "payout": render(doc),
        "mode": "test",
        "idempotent": replayed,
        "simulator": stored["simulator"],
    }
    return (200 if replayed else status), response


def _new_payout(
    rt: Runtime,
    tx: Tx,
    terminal: Terminal,
    body: dict[str, Any],
    plan: Plan,
) -> StoredPayout:
    now = rt.clock.now()
    doc: StoredPayout = {
        "id": str(uuid.uuid4()),
        "merchant_id": terminal.merchant_id,
        "terminal_id": terminal.id,
        "amount": body["amount"],
        "currency": body.get("currency", "RUB"),
        "method": body.get("method", "payouts_sbp"),
        "status": "pending",
        "recipient": cast(
            Recipient, {k: body[k] for k in ("phone", "bank_id", "full_name") if k in body}
        ),
        "created_at": iso(now),
        "_plan": {"outcome": plan.outcome, "reason": plan.reason},
    }
    tx.insert(KIND, doc["id"], terminal.merchant_id, doc)
    if plan.outcome != "pending":
        tx.add_timer(now + plan.delay_ms / 1000, "freefin", "payout.finalize", doc["id"])
    emit(rt, tx, terminal, ["payout.created"], render(doc), None)
    return doc


def get(rt: Runtime, terminal: Terminal, payout_id: str) -> Payout:
    with rt.store.read() as tx:
        doc = load(tx, payout_id)
    if doc is None or not rules.of(rt).visible(doc["merchant_id"], terminal.merchant_id):
        raise NotFound("payout not found", code="not_found")
    return render(doc)


def move(
    rt: Runtime, tx: Tx, terminals: Terminals, doc: StoredPayout, status: str, reason: str | None
) -> None:
    LIFECYCLE.enter(doc, status)
    doc["completed_at"] = iso(rt.clock.now())
    if status == "failed":
        doc["fail_reason"] = reason or "rejected"
    tx.update(KIND, doc["id"], doc)
    terminal = terminals.by_id[doc["terminal_id"]]
    emit(rt, tx, terminal, LIFECYCLE.events("payout", status), render(doc), None)


def register_timers(rt: Runtime, terminals: Terminals) -> None:
    def finalize(tx: Tx, pid: str, _arg: str, _due: float) -> None:
        doc = load(tx, pid)
        if doc and doc["status"] == "pending":
            move(rt, tx, terminals, doc, doc["_plan"]["outcome"], doc["_plan"].get("reason"))

    rt.scheduler.register("freefin", "payout.finalize", finalize)


def force(
    rt: Runtime, terminals: Terminals, payout_id: str, status: str, reason: str | None = None
) -> Payout:
    with rt.store.tx(rows=True) as tx:
        doc = load(tx, payout_id)
        if doc is None:
            raise NotFound("payout not found")
        move(rt, tx, terminals, doc, status, reason)
    return render(doc)
