"""In-memory state of the foreign Kaspi Pay server, guarded by one re-entrant lock."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .accounts import Merchant, default_merchants
from .bugs import check_bugs
from .common import ApiError, new_id, now_iso


class Emitter(Protocol):
    """What the store needs from the webhook dispatcher."""

    def emit(self, merchant_id: str, event_type: str, obj: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class Store:
    """All objects of all merchants; every mutation happens under ``lock``."""

    def __init__(self, bugs: Iterable[str] = ()) -> None:
        self.bugs = check_bugs(bugs)
        self.lock = threading.RLock()
        self.merchants: dict[str, Merchant] = default_merchants()
        self.invoices: dict[str, dict[str, Any]] = {}
        self.qrs: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.catalog: list[dict[str, Any]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.audit_logs: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, int, Any]] = {}
        self.plans: dict[str, deque[tuple[str, int]]] = {"invoice": deque(), "qr": deque()}
        self.timers: set[threading.Timer] = set()
        self.closed = False
        self.dispatcher: Emitter | None = None
        self._seq = itertools.count(1)
        self._bucket_lock = threading.Lock()

    def bug(self, name: str) -> bool:
        """Whether a switchable bug is on."""
        return name in self.bugs

    def next_seq(self) -> int:
        """A monotonically increasing number used for newest-first ordering."""
        return next(self._seq)

    def take_token(self, merchant: Merchant) -> bool:
        """Token bucket: refill at ``rate``/s up to ``burst``, spend one token."""
        with self._bucket_lock:
            now = time.monotonic()
            if merchant.stamp:
                elapsed = now - merchant.stamp
                merchant.tokens = min(merchant.burst, merchant.tokens + elapsed * merchant.rate)
            merchant.stamp = now
            if merchant.tokens >= 1.0:
                merchant.tokens -= 1.0
                return True
            return False

    def audit(
        self, merchant_id: str, action: str, object_type: str, object_id: str, **details: Any
    ) -> None:
        """Append an audit log entry."""
        entry = {
            "id": new_id(),
            "merchant_id": merchant_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
            "created_at": now_iso(),
        }
        with self.lock:
            self.audit_logs.append(entry)

    def emit(self, merchant_id: str, event_type: str, obj: dict[str, Any]) -> None:
        """Hand an event to the webhook dispatcher (never blocks on the network)."""
        if self.dispatcher is not None:
            self.dispatcher.emit(merchant_id, event_type, obj)

    def add_job(self, merchant_id: str, kind: str, object_id: str) -> dict[str, Any]:
        """Record a background job."""
        now = now_iso()
        job = {
            "id": new_id(),
            "merchant_id": merchant_id,
            "type": kind,
            "object_id": object_id,
            "status": "queued",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self.lock:
            self.jobs[job["id"]] = job
        return job

    def update_job(self, job_id: str, status: str, attempts: int | None = None) -> None:
        """Move a job to another status."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                job["status"] = status
                if attempts is not None:
                    job["attempts"] = attempts
                job["updated_at"] = now_iso()

    def later(self, delay: float, func: Callable[[], None]) -> None:
        """Run func on a daemon timer after delay seconds (dropped once closed)."""

        def run() -> None:
            with self.lock:
                self.timers.discard(timer)
                if self.closed:
                    return
            with contextlib.suppress(Exception):  # never escape the timer thread
                func()

        timer = threading.Timer(max(delay, 0.0), run)
        timer.daemon = True
        with self.lock:
            if self.closed:
                return
            self.timers.add(timer)
        timer.start()

    def close(self) -> None:
        """Stop timers and the dispatcher."""
        with self.lock:
            self.closed = True
            timers = list(self.timers)
            self.timers.clear()
        for timer in timers:
            timer.cancel()
        if self.dispatcher is not None:
            self.dispatcher.close()

    def own(self, table: dict[str, dict[str, Any]], merchant_id: str | None, obj_id: str) -> Any:
        """Fetch an object of the merchant (any merchant when merchant_id is None) or 404."""
        obj = table.get(obj_id)
        if obj is None or (merchant_id is not None and obj["merchant_id"] != merchant_id):
            raise ApiError(404, "NOT_FOUND", "object not found", {"id": obj_id})
        return obj


_UNSET: Any = object()


class Ctx:
    """One request as seen by a handler."""

    def __init__(self, store: Store, request: Any, merchant: Merchant | None, raw: bytes) -> None:
        self.store = store
        self.request = request
        self.merchant = merchant
        self.raw = raw
        self._body: Any = _UNSET

    @property
    def mid(self) -> str | None:
        """The caller's merchant id (None only when a bug skipped authentication)."""
        return self.merchant.id if self.merchant is not None else None

    def body(self) -> Any:
        """The parsed JSON body, or None when the body is empty."""
        if self._body is _UNSET:
            from .common import parse_json

            self._body = parse_json(self.raw) if self.raw.strip() else None
        return self._body
