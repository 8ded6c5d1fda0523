"""Payout part of the in-memory state of the foreign freefin server."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from .core import Result, StoreCore, now_iso
from .directory import Terminal
from .errors import ApiError, not_found


class PayoutStore(StoreCore):
    """Creates, reads and moves SBP payouts."""

    def _move_payout(self, payout: dict[str, Any], status: str, reason: str | None) -> None:
        payout["status"] = status
        if status != "pending":
            payout["completed_at"] = now_iso()
        if status == "failed":
            payout["fail_reason"] = reason or "declined"
        self._emit(payout["merchant_id"], "payout.status_changed", copy.deepcopy(payout))

    def create_payout(
        self, terminal: Terminal, data: dict[str, Any], key: str | None, fp: str
    ) -> Result:
        """Create a payout (or replay one by Idempotency-Key)."""
        with self.lock:
            old = self._replayed(terminal, "payout", key, fp)
            if old is not None:
                payout, created, arm = self.payouts[old], False, None
            else:
                plan = self._take_plan("payout")
                payout = self._new_payout(terminal, data)
                self._remember(terminal, "payout", key, fp, payout["id"])
                created, arm = True, self._arm("payout", payout["id"], plan)
                if plan is not None:
                    self.private[payout["id"]]["simulator"] = plan[0]
            body: dict[str, Any] = {
                "payout": copy.deepcopy(payout),
                "mode": "test",
                "idempotent": not created,
            }
            if "simulator" in self.private[payout["id"]]:
                body["simulator"] = self.private[payout["id"]]["simulator"]
        status = 201 if created and "create_200" not in self.bugs else 200
        return status, body, arm

    def _new_payout(self, terminal: Terminal, data: dict[str, Any]) -> dict[str, Any]:
        recipient = {"phone": data["phone"], "bank_id": data["bank_id"]}
        if data["full_name"] is not None:
            recipient["full_name"] = data["full_name"]
        payout: dict[str, Any] = {
            "id": str(uuid.uuid1()),
            "merchant_id": terminal.merchant.id,
            "terminal_id": terminal.id,
            "amount": data["amount"],
            "currency": data["currency"],
            "method": data["method"],
            "status": "pending",
            "recipient": recipient,
            "created_at": now_iso(),
        }
        self.payouts[payout["id"]] = payout
        self.private[payout["id"]] = {}
        return payout

    def get_payout(self, oid: str, merchant_id: str | None) -> dict[str, Any]:
        """Return a payout of ``merchant_id`` (any merchant's when None)."""
        with self.lock:
            payout = self.payouts.get(oid)
            if payout is None or (merchant_id is not None and payout["merchant_id"] != merchant_id):
                raise not_found("payout_not_found", "payout not found")
            return copy.deepcopy(payout)

    def move_payout(self, oid: str, status: str, reason: str | None) -> dict[str, Any]:
        """Test endpoint: move a pending payout to ``status`` now."""
        with self.lock:
            payout = self.payouts.get(oid)
            if payout is None:
                raise not_found("payout_not_found", "payout not found")
            if payout["status"] != status:
                if payout["status"] != "pending":
                    message = f"a {payout['status']} payout cannot become {status}"
                    raise ApiError(422, "unsupported_status", message)
                self._move_payout(payout, status, reason)
            return copy.deepcopy(payout)
