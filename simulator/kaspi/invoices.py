"""Invoices and QR codes: creation with a planned outcome, the state machine, cancel, status
check and the sandbox simulate.

An invoice and a QR share one life: pending -> processing -> paid -> refunded, and pending or
processing -> canceled. A failed payment shows ``canceled`` with a ``failure_reason`` (the
spec's status enum has no ``failed``). Stored documents are the rendered objects plus private
``_``-prefixed fields (tiyn amounts, the plan); money is kept in tiyn.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from simulator.core import idempotency
from simulator.core.clock import iso
from simulator.core.errors import ApiError, Conflict, NotFound, UpstreamError
from simulator.core.lifecycle import Lifecycle
from simulator.core.outcomes import Plan
from simulator.core.runtime import Runtime
from simulator.core.store import Tx
from simulator.kaspi import audit, money, paging, rules
from simulator.kaspi.merchants import Merchant, require_connected
from simulator.kaspi.models import StoredInvoice, StoredPayable, StoredSubscription
from simulator.kaspi.notify import emit
from simulator.kaspi.outcomes import plan_for

KINDS = {"invoice": "kp_invoice", "qr": "kp_qr"}
ID_PREFIX = {"invoice": "inv_", "qr": "qr_"}
SUBSCRIPTION_KIND = "kp_subscription"
LIFECYCLE = Lifecycle(
    "invoice",
    {
        "pending": ("processing", "paid", "canceled"),
        "processing": ("paid", "canceled"),
        "paid": ("refunded",),
    },
    specific=("paid", "canceled"),
    conflict_code="invalid_status",
)
MAX_STATUS_CHECK_IDS = 100


def scope(rt: Runtime, merchant: Merchant, operation: str) -> str:
    """An Idempotency-Key's scope, as the rules say (the merchant and the operation)."""
    return rules.of(rt).idempotency_scope(merchant.id, operation)


def remember_refusal(
    rt: Runtime, merchant: Merchant, operation: str, key: str, error: ApiError
) -> None:
    """A refused request's key is spent (where the rules say so)."""
    body = {"error": error.code, "message": error.message, "details": error.details}
    with rt.store.tx(rows=True) as tx:
        idempotency.remember(
            tx,
            scope(rt, merchant, operation),
            key,
            "refused",
            error.status,
            body,
            rt.clock.now() + rt.idempotency_ttl_s,
        )


def idempotency_conflict() -> ApiError:
    return Conflict(
        "Idempotency-Key was used with another request body", code="idempotency_conflict"
    )


def load(tx: Tx, obj: str, doc_id: str) -> StoredPayable | None:
    """The stored invoice or QR (``obj``) ``doc_id``, or None."""
    return cast(StoredPayable | None, tx.get(KINDS[obj], doc_id))


def obj_of(object_id: str) -> str:
    return "qr" if object_id.startswith(ID_PREFIX["qr"]) else "invoice"


def create(
    rt: Runtime,
    merchant: Merchant,
    obj: str,
    body: dict[str, Any],
    key: str | None,
) -> tuple[int, dict[str, Any], bool]:
    """Create an invoice or QR (or replay the key's first response): (status, body, replayed)."""
    tiyn = money.to_tiyn(body["amount"])
    text = body.get("description" if obj == "invoice" else "comment")
    fp = idempotency.fingerprint(obj, body)
    try:
        return _create(rt, merchant, obj, body, key, tiyn, text, fp)
    except _Refused as refused:
        if rt.control.shared:
            # The refusal's transaction was rolled back, and with it, in the store every
            # process shares, the taking of its queued outcome: take it for good.
            rt.control.pop_outcome("kaspi", obj, merchant.id)
        raise UpstreamError(
            "Kaspi refused to create the invoice",
            code="kaspi_refused",
            details={"reason": refused.reason or "kaspi_rejected"},
        ) from None


class _Refused(Exception):
    """Kaspi refuses the create: nothing is made, the queued outcome is spent."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason


def _create(
    rt: Runtime,
    merchant: Merchant,
    obj: str,
    body: dict[str, Any],
    key: str | None,
    tiyn: int,
    text: Any,
    fp: str,
) -> tuple[int, dict[str, Any], bool]:
    with rt.store.tx(rows=True) as tx:

        def make() -> tuple[int, dict[str, Any]]:
            require_connected(rules.of(rt), tx, merchant)
            plan = plan_for(rt, merchant, obj, tiyn, text)
            if plan.outcome == "refused" and rules.of(rt).honours_refusal():
                raise _Refused(plan.reason)
            doc = new(rt, tx, merchant, obj, tiyn, body, plan)
            audit.record(
                rt,
                tx,
                merchant.id,
                merchant.actor,
                f"{obj}.create",
                obj,
                doc["id"],
                {"amount": doc["amount"], "is_sandbox": doc["is_sandbox"]},
            )
            return 201, paging.strip(doc)

        return idempotency.execute(
            tx,
            scope=scope(rt, merchant, f"create_{obj}"),
            key=key,
            fp=fp,
            now=rt.clock.now(),
            ttl=rt.idempotency_ttl_s,
            create=make,
            conflict=idempotency_conflict(),
            skip_lookup=not rules.of(rt).replays(),
        )


def new(
    rt: Runtime,
    tx: Tx,
    merchant: Merchant,
    obj: str,
    tiyn: int,
    body: dict[str, Any],
    plan: Plan,
    subscription_id: str | None = None,
) -> StoredPayable:
    """Insert a pending invoice or QR with its planned transitions and its created event."""
    now = rt.clock.now()
    doc_id = ID_PREFIX[obj] + uuid.uuid4().hex[:16]
    kaspi_id = str(uuid.uuid4().int)[:12]
    doc: dict[str, Any] = {
        "id": doc_id,
        "external_order_id": body.get("external_order_id"),
        "amount": money.render(tiyn),
        "currency": money.CURRENCY,
        "status": "pending",
    }
    if obj == "invoice":
        doc.update(
            {
                "description": body.get("description", ""),
                "phone_number": body["phone_number"],
                "kaspi_invoice_id": kaspi_id,
                "payment_url": f"https://kaspi.kz/pay/sim/{kaspi_id}",
                "subscription_id": subscription_id,
            }
        )
    else:
        doc.update(
            {
                "comment": body.get("comment", ""),
                "latitude": body.get("latitude"),
                "longitude": body.get("longitude"),
                "kaspi_qr_id": kaspi_id,
                "qr_payload": f"https://qr.kaspi.kz/sim/{kaspi_id}",
            }
        )
    doc.update(
        {
            "is_sandbox": bool(body.get("is_sandbox", False)),
            "refunded_amount": money.render(0),
            "failure_reason": None,
            "paid_at": None,
            "canceled_at": None,
            "created_at": iso(now),
            "updated_at": iso(now),
            "_merchant": merchant.id,
            "_amount": tiyn,
            "_refunded": 0,
            "_plan": {"outcome": plan.outcome, "reason": plan.reason, "delay_ms": plan.delay_ms},
        }
    )
    tx.insert(KINDS[obj], doc_id, merchant.id, doc)
    delay = plan.delay_ms / 1000
    if plan.outcome in ("paid", "failed", "processing"):
        tx.add_timer(now + delay / 2, "kaspi", "payable.process", doc_id, obj)
    if plan.outcome in ("paid", "failed", "canceled"):
        tx.add_timer(now + delay, "kaspi", "payable.finalize", doc_id, obj)
    emit(rt, tx, merchant.id, [f"{obj}.created"], paging.strip(doc))
    return cast(StoredPayable, doc)


def owned(rt: Runtime, tx: Tx, merchant: Merchant, obj: str, doc_id: str) -> StoredPayable:
    """The merchant's invoice or QR, or 404 (another merchant's object is not found)."""
    doc = load(tx, obj, doc_id)
    if doc is None or not rules.of(rt).visible(doc["_merchant"], merchant.id):
        raise NotFound(f"{obj} {doc_id} not found", code="not_found")
    return doc


def get(rt: Runtime, merchant: Merchant, obj: str, doc_id: str) -> dict[str, Any]:
    with rt.store.read() as tx:
        doc = owned(rt, tx, merchant, obj, doc_id)
    if not rules.of(rt).readable(_created(doc), rt.clock.now()):
        raise NotFound(f"{obj} {doc_id} not found", code="not_found")
    return paging.strip(doc)


def _created(doc: StoredPayable) -> float:
    return datetime.fromisoformat(doc["created_at"].replace("Z", "+00:00")).timestamp()


def listing(rt: Runtime, merchant: Merchant, args: dict[str, str]) -> dict[str, Any]:
    """Invoices newest first, by ``status``, ``is_sandbox`` and ``search`` (description,
    external_order_id, phone_number), paged."""
    where: list[str] = []
    params: list[Any] = []
    broken = not rules.of(rt).pages()
    requested = paging.bounds(args)[0]
    if broken:
        args = {k: v for k, v in args.items() if k not in ("page", "status")}
    status = args.get("status")
    if status:  # a status no invoice has simply matches nothing
        where.append(f"{rt.store.field('status')}=?")
        params.append(status)
    sandbox = args.get("is_sandbox")
    if sandbox is not None:
        if sandbox not in ("true", "false"):
            raise money.validation_error("is_sandbox", "must be true or false")
        where.append(f"{rt.store.field('is_sandbox')}=?")
        params.append("1" if sandbox == "true" else "0")
    search = args.get("search")
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            " OR ".join(
                f"{rt.store.field(f)} LIKE ? ESCAPE '\\'"
                for f in ("description", "external_order_id", "phone_number")
            )
        )
        params.extend([like] * 3)
    result = paging.page(rt, KINDS["invoice"], merchant.id, args, [f"({w})" for w in where], params)
    if broken:
        result["pagination"]["page"] = requested
    return result


def move(
    rt: Runtime,
    tx: Tx,
    doc: StoredPayable,
    status: str,
    reason: str | None = None,
    force: bool = False,
) -> None:
    """An invoice's or QR's move: its timestamps and failure reason, its events, and the
    subscription it bills."""
    LIFECYCLE.enter(doc, status, force)
    obj = obj_of(doc["id"])
    now = iso(rt.clock.now())
    doc["updated_at"] = now
    if status == "paid":
        doc["paid_at"] = now
    elif status == "canceled":
        doc["canceled_at"] = now
        doc["failure_reason"] = reason
    owner = doc["_merchant"]
    tx.update(KINDS[obj], doc["id"], doc)
    emit(rt, tx, owner, LIFECYCLE.events(obj, status), paging.strip(doc))
    subscription_id = cast(StoredInvoice, doc).get("subscription_id")  # a QR has none
    if subscription_id and status in ("paid", "canceled"):
        _notify_subscription(rt, tx, owner, doc["id"], subscription_id, status)


def _notify_subscription(
    rt: Runtime, tx: Tx, owner: str, invoice_id: str, subscription_id: str, status: str
) -> None:
    sub = cast(StoredSubscription | None, tx.get(SUBSCRIPTION_KIND, subscription_id))
    if sub is None:
        return
    sub["last_payment_status"] = "paid" if status == "paid" else "failed"
    sub["updated_at"] = iso(rt.clock.now())
    tx.update(SUBSCRIPTION_KIND, sub["id"], sub)
    kind = "subscription.paid" if status == "paid" else "subscription.payment_failed"
    emit(rt, tx, owner, [kind], {**paging.strip(sub), "invoice_id": invoice_id})


def cancel(rt: Runtime, merchant: Merchant, doc_id: str) -> dict[str, Any]:
    """Remote cancel through Kaspi: only a pending or processing invoice (409 otherwise)."""
    with rt.store.tx(rows=True) as tx:
        doc = owned(rt, tx, merchant, "invoice", doc_id)
        in_force = rules.of(rt)
        require_connected(in_force, tx, merchant)
        if not in_force.cancelable(doc["status"]):
            raise Conflict(
                f"a {doc['status']} invoice cannot be canceled",
                code="invalid_status",
                details={"status": doc["status"]},
            )
        move(rt, tx, doc, "canceled", force=True)
        audit.record(rt, tx, merchant.id, merchant.actor, "invoice.cancel", "invoice", doc_id)
    return paging.strip(doc)


def register_timers(rt: Runtime) -> None:
    """Planned transitions: processing at half the delay, then the planned final status."""

    def process(tx: Tx, doc_id: str, obj: str, _due: float) -> None:
        doc = load(tx, obj, doc_id)
        if (
            doc
            and doc["status"] == "pending"
            and doc["_plan"]["outcome"] in ("paid", "failed", "processing")
        ):
            move(rt, tx, doc, "processing")

    def finalize(tx: Tx, doc_id: str, obj: str, _due: float) -> None:
        doc = load(tx, obj, doc_id)
        if doc is None or doc["status"] not in rules.CANCELABLE:
            return
        plan = doc["_plan"]
        if plan["outcome"] == "paid":
            move(rt, tx, doc, "paid")
        elif plan["outcome"] == "failed":
            move(rt, tx, doc, "canceled", plan.get("reason") or "payment_failed")
        elif plan["outcome"] == "canceled":
            move(rt, tx, doc, "canceled")

    rt.scheduler.register("kaspi", "payable.process", process)
    rt.scheduler.register("kaspi", "payable.finalize", finalize)


def force(
    rt: Runtime, obj: str, doc_id: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    """Control API: reach ``status`` (paid, canceled, failed, processing) now."""
    with rt.store.tx(rows=True) as tx:
        doc = load(tx, obj, doc_id)
        if doc is None:
            raise NotFound(f"{obj} {doc_id} not found", code="not_found")
        if status == "failed":
            status, reason = "canceled", reason or "payment_failed"
        move(rt, tx, doc, status, reason)
        audit.record(
            rt,
            tx,
            doc["_merchant"],
            audit.CONTROL,
            f"{obj}.transition",
            obj,
            doc_id,
            {"status": status},
        )
    return paging.strip(doc)
