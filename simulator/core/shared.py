"""The control state every process of one store shares (``--workers N``, or several simulators
on one PostgreSQL database): the clock's offset, the defects and faults switched on, the chaos
profile, the queued outcomes and the webhook retry settings.

One process holds it in memory, as before. Shared, it is also one document in the store's meta
table with a version beside it: a change is made inside a write transaction (the latest document
read first, the change applied, the document written back with the next version), and each
process reads the version before a request and a tick, reloading the document when it moved. A
count-limited fault is consumed the same way, so ``count: 1`` fires once across all processes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from simulator.core.clock import Clock
from simulator.core.defects import Defects
from simulator.core.faults import Fault, Faults
from simulator.core.outcomes import OutcomeQueue, Plan
from simulator.core.store import Store, Tx
from simulator.core.webhooks import WebhookConfig

DOCUMENT, VERSION = "control_state", "control_version"


class SharedControl:
    """The parts of the runtime it keeps in step, and the store they are kept in."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        defects: Defects,
        faults: Faults,
        outcomes: OutcomeQueue,
        webhooks: WebhookConfig,
        shared: bool,
    ) -> None:
        self.store, self.clock, self.defects, self.faults = store, clock, defects, faults
        self.outcomes, self.webhooks, self.shared = outcomes, webhooks, shared
        self.version = -1
        self.creates: list[str] = []  # the create paths chaos profiles act on
        self._lock = threading.RLock()
        self._depth = threading.local()

    # -- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring this process's copy up to date when another process changed the state."""
        if not self.shared:
            return
        with self.store.read() as tx:
            version = int(tx.get_meta(VERSION, 0))
            if version == self.version:
                return
            with self._lock:
                self._load(tx)

    def _load(self, tx: Tx) -> None:
        self.version = int(tx.get_meta(VERSION, 0))
        doc = tx.get_meta(DOCUMENT) or {}
        self.clock.reset(float(tx.get_meta("clock_offset", 0.0)))
        self.defects.disable()
        self.defects.enable(*doc.get("defects", []))
        self.faults.replace([Fault(**spec) for spec in doc.get("faults", [])])
        if self.faults.chaos_profile != doc.get("chaos", "none"):
            self.faults.set_chaos(doc.get("chaos", "none"), self.creates)
        self.outcomes.restore(doc.get("outcomes", []))
        hooks = doc.get("webhooks")
        if hooks:
            self.webhooks.retry_schedule = [float(s) for s in hooks["retry_schedule"]]
            self.webhooks.timeout_s = float(hooks["timeout_s"])

    # -- changing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def change(self) -> Iterator[None]:
        """Change the control state (in memory, as the caller does) and, shared, publish it."""
        if not self.shared or getattr(self._depth, "n", False):  # within a change: part of it
            yield
            return
        with self.store.tx() as tx, self._lock:
            tx.get_meta(VERSION, 0, lock=True)  # changes queue (in a row-locking one too)
            self._load(tx)
            self._depth.n = True
            try:
                yield
            finally:
                self._depth.n = False
            self._save(tx)

    def _save(self, tx: Tx) -> None:
        doc = {
            "defects": self.defects.active,
            "faults": self.faults.list(),
            "chaos": self.faults.chaos_profile,
            "outcomes": self.outcomes.saved(),
            "webhooks": {
                "retry_schedule": self.webhooks.retry_schedule,
                "timeout_s": self.webhooks.timeout_s,
            },
        }
        self.version += 1
        tx.set_meta("clock_offset", self.clock.offset)
        tx.set_meta(DOCUMENT, doc)
        tx.set_meta(VERSION, self.version)

    def pop_outcome(self, api: str, obj: str, merchant: str) -> Plan | None:
        """The next queued outcome, taken once across every process."""
        self.refresh()
        if self.outcomes.empty():
            return None
        with self.change():
            return self.outcomes.pop(api, obj, merchant)

    def match_fault(self, method: str, path: str) -> Fault | None:
        """The fault that fires for a request; a count-limited one is counted across
        every process."""
        faults = self.faults
        if not self.shared or not faults.counted():
            return faults.match(method, path)
        with self.change():
            return faults.match(method, path)
