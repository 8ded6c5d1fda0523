"""Payment part of the in-memory state of the foreign freefin server (with refunds)."""

from __future__ import annotations

import random
import uuid
from typing import Any

from .core import FINAL_PAYMENT, MOVABLE_PAYMENT, Result, now_iso
from .directory import Terminal
from .errors import ApiError, not_found
from .payouts import PayoutStore


class Store(PayoutStore):
    """All objects of the server: payments, refunds and (inherited) payouts."""

    # -- payments --------------------------------------------------------------------------

    def _move_payment(self, payment: dict[str, Any], status: str, reason: str | None) -> None:
        stamp = now_iso()
        payment["status"] = status
        if status in FINAL_PAYMENT:
            payment.setdefault("finalized_at", stamp)
        if status == "succeeded":
            payment["captured_at"] = stamp
            payment["rrn"] = f"{random.randrange(10**12):012d}"
        if reason:
            self.private[payment["id"]]["fail_reason"] = reason
        view = self.payment_view(payment, False)
        self._emit(payment["merchant_id"], "payment.status_changed", view)

    def create_payment(
        self, terminal: Terminal, data: dict[str, Any], key: str | None, fp: str, base_url: str
    ) -> Result:
        """Create a payment (or replay one by Idempotency-Key)."""
        with self.lock:
            old = self._replayed(terminal, "payment", key, fp)
            if old is not None:
                payment, created, arm = self.payments[old], False, None
            else:
                plan = self._take_plan("payment")
                payment = self._new_payment(terminal, data)
                self._remember(terminal, "payment", key, fp, payment["id"])
                created, arm = True, self._arm("payment", payment["id"], plan)
                if plan is not None:
                    self.private[payment["id"]]["simulator"] = plan[0]
            body: dict[str, Any] = {
                "payment": self.payment_view(payment),
                "payment_url": f"{base_url}/checkout/{payment['id']}",
                "mode": "test",
                "idempotent": not created,
            }
            if "simulator" in self.private[payment["id"]]:
                body["simulator"] = self.private[payment["id"]]["simulator"]
        status = 201 if created and "create_200" not in self.bugs else 200
        return status, body, arm

    def _new_payment(self, terminal: Terminal, data: dict[str, Any]) -> dict[str, Any]:
        pid = str(uuid.uuid1())
        payment: dict[str, Any] = {
            "id": pid,
            "merchant_id": terminal.merchant.id,
            "terminal_id": terminal.id,
            "terminal_name": terminal.name,
            "amount": data["amount"],
            "amount_refunded": 0,
            "currency": data["currency"],
            "method": data["method"],
            "status": "pending",
            "created_at": now_iso(),
            "metadata": data["metadata"],
            "refunds": [],
        }
        for name in ("order_id", "return_url"):
            if data[name] is not None:
                payment[name] = data[name]
        extra = ("customer_id", "description", "webhook_url")
        self.private[pid] = {name: data[name] for name in extra}
        self.payments[pid] = payment
        return payment

    def _visible(self, pid: str, merchant_id: str | None) -> dict[str, Any]:
        payment = self.payments.get(pid)
        if payment is None or (merchant_id is not None and payment["merchant_id"] != merchant_id):
            raise not_found("payment_not_found", "payment not found")
        return payment

    def get_payment(self, pid: str, merchant_id: str | None) -> dict[str, Any]:
        """Return a payment of ``merchant_id`` (any merchant's when None)."""
        with self.lock:
            return self.payment_view(self._visible(pid, merchant_id))

    def cancel_payment(self, pid: str, merchant_id: str) -> dict[str, Any]:
        """Cancel a pending payment; 409 ``not_pending`` otherwise."""
        with self.lock:
            payment = self._visible(pid, merchant_id)
            if payment["status"] != "pending" and "cancel_any_state" not in self.bugs:
                message = "отменить можно только платёж в статусе pending"
                raise ApiError(409, "not_pending", message)
            self._move_payment(payment, "cancelled", None)
            self._emit(merchant_id, "payment.cancelled", self.payment_view(payment, False))
            return {"status": "cancelled", "payment": self.payment_view(payment)}

    def refund_payment(
        self, terminal: Terminal, pid: str, data: dict[str, Any], key: str | None, fp: str
    ) -> Result:
        """Refund a succeeded payment, fully (amount 0) or partly."""
        with self.lock:
            payment = self._visible(pid, terminal.merchant.id)
            old = self._replayed(terminal, f"refund:{pid}", key, fp)
            if old is not None:
                done = next(r for r in payment["refunds"] if r["id"] == old)
                return 200, {**done, "idempotent": True}, None
            refundable = {"succeeded", "pending"} if "refund_unpaid" in self.bugs else {"succeeded"}
            remaining = payment["amount"] - payment["amount_refunded"]
            if payment["status"] not in refundable or remaining <= 0:
                raise ApiError(409, "payment_not_refundable", "payment is not refundable")
            amount = data["amount"] or remaining
            if amount > remaining and "over_refund" not in self.bugs:
                message = f"refund amount exceeds the remaining {remaining}"
                raise ApiError(422, "refund_exceeds_remaining", message)
            stamp = now_iso()
            refund: dict[str, Any] = {
                "id": str(uuid.uuid1()),
                "payment_id": pid,
                "merchant_id": payment["merchant_id"],
                "amount": amount,
                "status": "succeeded",
                "created_at": stamp,
                "completed_at": stamp,
            }
            if data["reason"] is not None:
                refund["reason"] = data["reason"]
            payment["refunds"].append(refund)
            payment["amount_refunded"] += amount
            self._remember(terminal, f"refund:{pid}", key, fp, refund["id"])
            if payment["amount_refunded"] >= payment["amount"]:
                self._move_payment(payment, "refunded", None)
            event = {**self.payment_view(payment, False), "refund": dict(refund)}
            self._emit(payment["merchant_id"], "payment.refunded", event)
            return 201, dict(refund), None

    def move_payment(self, pid: str, status: str, reason: str | None) -> dict[str, Any]:
        """Test endpoint: move a pending or processing payment to ``status`` now."""
        with self.lock:
            payment = self._visible(pid, None)
            if payment["status"] != status:
                if payment["status"] not in MOVABLE_PAYMENT:
                    message = f"a {payment['status']} payment cannot become {status}"
                    raise ApiError(422, "unsupported_status", message)
                self._move_payment(payment, status, reason)
            return self.payment_view(payment, False)
