"""Timers on the simulated clock: planned transitions run when their time has come."""

from __future__ import annotations

import logging
from collections.abc import Callable

from simulator.core.store import Store, Tx

log = logging.getLogger(__name__)

Handler = Callable[[Tx, str, str, float], None]


class Scheduler:
    """API packages register a handler per (api, action); ``run_due`` fires due timers."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.handlers: dict[tuple[str, str], Handler] = {}

    def register(self, api: str, action: str, handler: Handler) -> None:
        self.handlers[(api, action)] = handler

    def run_due(self, now: float, limit: int = 200) -> int:
        """Fire every timer due at ``now``, each in its own transaction; return how many."""
        fired = 0
        with self.store.read() as tx:  # the common case: nothing due, no write lock taken
            due = tx.execute("SELECT 1 FROM timers WHERE due_at<=? LIMIT 1", (now,)).fetchone()
        if due is None:
            return 0
        while fired < limit:
            with self.store.tx() as tx:
                row = tx.execute(
                    "SELECT id, api, action, obj_id, arg, due_at FROM timers WHERE due_at<=? "
                    "ORDER BY due_at, id LIMIT 1",
                    (now,),
                ).fetchone()
                if row is None:
                    return fired
                tx.execute("DELETE FROM timers WHERE id=?", (row[0],))
                handler = self.handlers.get((row[1], row[2]))
                if handler is None:
                    log.warning("no handler for timer %s/%s", row[1], row[2])
                else:
                    handler(tx, row[3], row[4] or "", row[5])
            fired += 1
        return fired
