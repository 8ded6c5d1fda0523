"""Shared core of the in-memory state: the lock, idempotency records, planned outcomes, timers."""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .directory import Terminal
from .errors import ApiError
from .events import EventBus

FINAL_PAYMENT = frozenset({"succeeded", "failed", "expired", "cancelled", "refunded"})
MOVABLE_PAYMENT = frozenset({"pending", "processing"})
Result = tuple[int, dict[str, Any], Callable[[], None] | None]


def now_iso() -> str:
    """Return the current UTC time as an RFC 3339 string."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StoreCore:
    """State shared by payments and payouts, guarded by one lock."""

    def __init__(self, bugs: frozenset[str], bus: EventBus) -> None:
        self.bugs = bugs
        self.bus = bus
        self.lock = threading.Lock()
        self.payments: dict[str, dict[str, Any]] = {}
        self.payouts: dict[str, dict[str, Any]] = {}
        self.private: dict[str, dict[str, Any]] = {}
        self.idem: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.plans: dict[str, deque[tuple[str, str | None, int]]] = {
            "payment": deque(),
            "payout": deque(),
        }
        self.timers: set[threading.Timer] = set()
        self.closed = False

    # -- views -----------------------------------------------------------------------------

    def payment_view(self, payment: dict[str, Any], http: bool = True) -> dict[str, Any]:
        """Return a copy of a payment; in HTTP answers ``amount_as_string`` may apply."""
        view = copy.deepcopy(payment)
        if http and "amount_as_string" in self.bugs:
            view["amount"] = str(view["amount"])
        return view

    def _emit(self, merchant_id: str, kind: str, payload: dict[str, Any]) -> None:
        self.bus.publish(merchant_id, kind, payload)

    # -- idempotency -----------------------------------------------------------------------

    def _replayed(self, terminal: Terminal, scope: str, key: str | None, fp: str) -> str | None:
        """Return the id stored under the key for the same body; 409 for another body."""
        if key is None:
            return None
        record = self.idem.get((terminal.id, scope, key))
        if record is None:
            return None
        stored_fp, object_id = record
        is_payment = scope == "payment"
        if stored_fp == fp:
            return None if is_payment and "replay_duplicates" in self.bugs else object_id
        if is_payment and "conflict_ignored" in self.bugs:
            return object_id
        raise ApiError(409, "idempotent_conflict", "Idempotency-Key reused with another body")

    def _remember(self, terminal: Terminal, scope: str, key: str | None, fp: str, oid: str) -> None:
        if key is not None:
            self.idem[(terminal.id, scope, key)] = (fp, oid)

    # -- plans and timers ------------------------------------------------------------------

    def add_plan(self, kind: str, status: str, reason: str | None, after_ms: int) -> int:
        """Queue the outcome of the next created object of ``kind``; return the queue length."""
        with self.lock:
            self.plans[kind].append((status, reason, after_ms))
            return len(self.plans[kind])

    def _take_plan(self, kind: str) -> tuple[str, str | None, int] | None:
        return self.plans[kind].popleft() if self.plans[kind] else None

    def _arm(
        self, kind: str, oid: str, plan: tuple[str, str | None, int] | None
    ) -> Callable[[], None] | None:
        if plan is None or plan[0] == "pending":
            return None
        status, reason, after_ms = plan

        def arm() -> None:
            with self.lock:
                if self.closed:
                    return
                timer = threading.Timer(after_ms / 1000, self._fire, (kind, oid, status, reason))
                timer.daemon = True
                self.timers.add(timer)
                timer.start()

        return arm

    def _fire(self, kind: str, oid: str, status: str, reason: str | None) -> None:
        with self.lock:
            self.timers.discard(threading.current_thread())
            if self.closed:
                return
            if kind == "payment":
                payment = self.payments[oid]
                if payment["status"] in MOVABLE_PAYMENT and payment["status"] != status:
                    self._move_payment(payment, status, reason)
            elif self.payouts[oid]["status"] == "pending":
                self._move_payout(self.payouts[oid], status, reason)

    def _move_payment(self, payment: dict[str, Any], status: str, reason: str | None) -> None:
        raise NotImplementedError

    def _move_payout(self, payout: dict[str, Any], status: str, reason: str | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop every planned transition."""
        with self.lock:
            self.closed = True
            timers, self.timers = self.timers, set()
        for timer in timers:
            timer.cancel()
