"""The runtime: every piece of shared machinery in one object, and the ticker that moves it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.core.clock import Clock
from simulator.core.defects import Defects
from simulator.core.dispatcher import Dispatcher
from simulator.core.events import EventBus, StreamPlaces
from simulator.core.faults import Faults
from simulator.core.outcomes import OutcomeQueue
from simulator.core.ratelimit import RateLimiter
from simulator.core.retention import Retention, Table, prune
from simulator.core.scheduler import Scheduler
from simulator.core.shared import SharedControl
from simulator.core.store import Store
from simulator.core.webhooks import WebhookConfig

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    store: Store
    seed: dict[str, Any]
    clock: Clock = field(default_factory=Clock)
    bus: EventBus = field(default_factory=EventBus)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: Faults = field(default_factory=Faults)
    defects: Defects = field(default_factory=Defects)
    outcomes: OutcomeQueue = field(default_factory=OutcomeQueue)
    idempotency_ttl_s: float = 24 * 3600
    sse_heartbeat_s: float = 25.0
    streams_per_merchant: int = 16
    streams_total: int = 16
    webhook_allow_hosts: list[str] = field(default_factory=list)
    listening: list[tuple[str, int]] = field(default_factory=list)
    on_reset: list[Callable[[], None]] = field(default_factory=list)
    shared: bool = False  # other processes use the same store (--workers, PostgreSQL)
    retention: Retention = field(default_factory=Retention)
    kept: Sequence[Table] = ()  # tables above core pruned with core's (the client log)

    def __post_init__(self) -> None:
        hooks = self.seed["webhooks"]  # the seed's numbers (core.seed fills them in)
        self.webhook_config = WebhookConfig(
            retry_schedule=[float(s) for s in hooks["retry_schedule"]],
            timeout_s=float(hooks["timeout_s"]),
        )
        if self.webhook_allow_hosts:
            self.webhook_config.allow_hosts = list(self.webhook_allow_hosts)
        self.webhook_config.own = list(self.listening)
        self.streams = StreamPlaces(self.streams_per_merchant, self.streams_total)
        if self.shared:  # other processes write events this one's streams wait for
            self.bus.follow(self.store)
        self.scheduler = Scheduler(self.store)
        self.dispatcher = Dispatcher(self.store, self.clock, self.webhook_config)
        self.control = SharedControl(
            self.store,
            self.clock,
            self.defects,
            self.faults,
            self.outcomes,
            self.webhook_config,
            self.shared,
        )
        with self.store.read() as tx:
            self.clock.reset(float(tx.get_meta("clock_offset", 0.0)))
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0  # monotonic time of the last pruning

    def tick(self) -> None:
        """Run due transitions, then send due webhooks; prune what is kept, now and then."""
        self.control.refresh()  # another process may have moved the clock
        with self._tick_lock:
            self.scheduler.run_due(self.clock.now())
        self.dispatcher.run_due()
        if time.monotonic() - self._pruned_at >= self.retention.every_s:
            self.prune()

    def prune(self) -> dict[str, int]:
        """Events, deliveries, idempotency records and the client log past their retention."""
        self._pruned_at = time.monotonic()
        now = self.clock.now()
        return prune(self.store, now, now - self.clock.offset, self.retention, self.kept)

    def advance(self, seconds: float) -> float:
        with self.control.change():
            offset = self.clock.advance(seconds)
            with self.store.tx() as tx:
                tx.set_meta("clock_offset", offset)
        self.tick()
        self.prune()  # what the move made older than its retention goes at once
        return offset

    def reset(self) -> None:
        with self.control.change():  # shared: every process sees the cleared state
            self._reset()

    def _reset(self) -> None:
        self.store.wipe()
        self.clock.reset()
        self.outcomes.clear()
        self.faults.clear()
        self.defects.disable()
        self.limiter.reset()
        for hook in self.on_reset:
            hook()
        self.bus.notify_all()

    def start(self, interval: float = 0.05) -> None:
        """Start the background ticker (idempotent)."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), daemon=True, name="paysim-ticker"
        )
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception:  # keep ticking; the error is logged with its traceback
                log.exception("ticker failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self.dispatcher.shutdown()
