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
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from simulator.core.faults import Fault
from simulator.core.outcomes import Plan
from simulator.core.store import Tx

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

DOCUMENT, VERSION = "control_state", "control_version"


class SharedControl:
    def __init__(self, rt: Runtime, shared: bool) -> None:
        self.rt, self.shared = rt, shared
        self.version = -1
        self.creates: list[str] = []  # the create paths chaos profiles act on
        self._lock = threading.RLock()
        self._depth = threading.local()

    # -- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring this process's copy up to date when another process changed the state."""
        if not self.shared:
            return
        with self.rt.store.read() as tx:
            version = int(tx.get_meta(VERSION, 0))
            if version == self.version:
                return
            with self._lock:
                self._load(tx)

    def _load(self, tx: Tx) -> None:
        self.version = int(tx.get_meta(VERSION, 0))
        doc = tx.get_meta(DOCUMENT) or {}
        rt = self.rt
        rt.clock.reset(float(tx.get_meta("clock_offset", 0.0)))
        rt.defects.disable()
        rt.defects.enable(*doc.get("defects", []))
        rt.faults.replace([Fault(**spec) for spec in doc.get("faults", [])])
        if rt.faults.chaos_profile != doc.get("chaos", "none"):
            rt.faults.set_chaos(doc.get("chaos", "none"), self.creates)
        queues = rt.outcomes._queues
        queues.clear()
        for item in doc.get("outcomes", []):
            key = (item["api"], item["object"], item["merchant"])
            queues.setdefault(key, deque()).append(Plan(**item["plan"]))
        hooks = doc.get("webhooks")
        if hooks:
            rt.webhook_config.retry_schedule = [float(s) for s in hooks["retry_schedule"]]
            rt.webhook_config.timeout_s = float(hooks["timeout_s"])

    # -- changing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def change(self) -> Iterator[None]:
        """Change the control state (in memory, as the caller does) and, shared, publish it."""
        if not self.shared or getattr(self._depth, "n", False):  # within a change: part of it
            yield
            return
        with self.rt.store.tx() as tx, self._lock:
            tx.get_meta(VERSION, 0, lock=True)  # changes queue (in a row-locking one too)
            self._load(tx)
            self._depth.n = True
            try:
                yield
            finally:
                self._depth.n = False
            self._save(tx)

    def _save(self, tx: Tx) -> None:
        rt = self.rt
        doc = {
            "defects": rt.defects.active,
            "faults": rt.faults.list(),
            "chaos": rt.faults.chaos_profile,
            "outcomes": [
                {"api": a, "object": o, "merchant": m, "plan": asdict(plan)}
                for (a, o, m), queue in rt.outcomes._queues.items()
                for plan in queue
            ],
            "webhooks": {
                "retry_schedule": rt.webhook_config.retry_schedule,
                "timeout_s": rt.webhook_config.timeout_s,
            },
        }
        self.version += 1
        tx.set_meta("clock_offset", rt.clock.offset)
        tx.set_meta(DOCUMENT, doc)
        tx.set_meta(VERSION, self.version)

    def pop_outcome(self, api: str, obj: str, merchant: str) -> Plan | None:
        """The next queued outcome, taken once across every process."""
        self.refresh()
        if not self.rt.outcomes._queues:
            return None
        with self.change():
            return self.rt.outcomes.pop(api, obj, merchant)

    def match_fault(self, method: str, path: str) -> Fault | None:
        """The fault that fires for a request; a count-limited one is counted across
        every process."""
        faults = self.rt.faults
        if not self.shared or not faults.counted():
            return faults.match(method, path)
        with self.change():
            return faults.match(method, path)
