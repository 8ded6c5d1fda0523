"""Timers on the simulated clock: planned transitions run when their time has come."""

from __future__ import annotations

import logging
from collections.abc import Callable

from simulator.core.store import Store, Tx

log = logging.getLogger(__name__)

Handler = Callable[[Tx, str, str, float], None]
HEADS = (  # a timer that is its object's first
    " AND NOT EXISTS (SELECT 1 FROM timers e WHERE e.obj_id=t.obj_id"
    " AND (e.due_at, e.id) < (t.due_at, t.id))"
)


class Scheduler:
    """API packages register a handler per (api, action); ``run_due`` fires due timers."""

    def __init__(self, store: Store, batch: int = 20) -> None:
        self.store = store
        self.batch = batch
        self.handlers: dict[tuple[str, str], Handler] = {}

    def register(self, api: str, action: str, handler: Handler) -> None:
        self.handlers[(api, action)] = handler

    def run_due(self, now: float, limit: int = 200) -> int:
        """Fire timers due at ``now`` in due order, at most ``limit``; return how many.

        Up to ``batch`` timers share one transaction (a commit per timer was most of a
        transition's cost), each inside a savepoint: a handler that raises is rolled back and
        logged alone, and its timer is dropped instead of blocking every later one. A batch
        ends early when a handler adds a timer due before the next one of the batch, so the
        order is the same as one timer at a time.

        Several processes may run timers at once (``--workers``, PostgreSQL): each takes due
        timers no other holds (``FOR UPDATE SKIP LOCKED``), only the first of their object,
        whose later timers wait for the next batch; it locks the objects in one order before
        firing any, so two batches never wait on each other. Each due timer fires once.
        """
        fired = 0
        with self.store.read() as tx:  # the common case: nothing due, no write lock taken
            due = tx.execute("SELECT 1 FROM timers WHERE due_at<=? LIMIT 1", (now,)).fetchone()
        if due is None:
            return 0
        while fired < limit:
            with self.store.tx(rows=True) as tx:
                # one writer at a time (SQLite) takes timers in due order as they are
                heads = (HEADS if tx.for_update else "") + " ORDER BY due_at, id LIMIT ?"
                rows = tx.execute(
                    "SELECT id, api, action, obj_id, arg, due_at FROM timers t WHERE due_at<=?"
                    + heads
                    + tx.skip_locked,
                    (now, min(self.batch, limit - fired)),
                ).fetchall()
                if not rows:
                    return fired
                if tx.for_update:
                    objects = sorted({row[3] for row in rows})
                    marks = ",".join("?" * len(objects))
                    tx.execute(
                        f"SELECT 1 FROM objects WHERE id IN ({marks}) ORDER BY kind, id"
                        + tx.for_update,
                        tuple(objects),
                    ).fetchall()
                done: list[int] = []
                for i, row in enumerate(rows):
                    tx.added_due = None
                    done.append(row[0])
                    self._fire(tx, row)
                    fired += 1
                    following = rows[i + 1][5] if i + 1 < len(rows) else None
                    if (
                        following is not None
                        and tx.added_due is not None
                        and tx.added_due <= following
                    ):
                        break
                marks = ",".join("?" * len(done))  # one statement for the batch's timers
                tx.execute(f"DELETE FROM timers WHERE id IN ({marks})", tuple(done))
        return fired

    def _fire(self, tx: Tx, row: tuple[int, str, str, str, str | None, float]) -> None:
        _timer_id, api, action, obj_id, arg, due_at = row
        handler = self.handlers.get((api, action))
        if handler is None:
            log.warning("no handler for timer %s/%s", api, action)
            return
        tx.execute("SAVEPOINT timer")
        try:
            handler(tx, obj_id, arg or "", due_at)
        except Exception:
            tx.execute("ROLLBACK TO SAVEPOINT timer")
            log.exception("timer %s/%s of %s failed; dropped", api, action, obj_id)
        tx.execute("RELEASE SAVEPOINT timer")
