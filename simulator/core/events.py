"""Events: written in the state change's transaction, fanned out to SSE streams after commit."""

from __future__ import annotations

import threading
from typing import Any

from simulator.core import codec
from simulator.core.store import Store, Tx


class EventBus:
    """Wakes SSE streams when new events have been committed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0

    def notify(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the version moves past ``seen`` or ``timeout``; return the version."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != seen, timeout)
            return self._version

    @property
    def version(self) -> int:
        return self._version


def record(
    tx: Tx,
    bus: EventBus,
    *,
    event_id: str,
    api: str,
    owner: str,
    kind: str,
    body: dict[str, Any],
    now: float,
) -> None:
    tx.execute(
        "INSERT INTO events (id, api, owner, kind, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (event_id, api, owner, kind, codec.dumps(body), now),
    )
    if bus.notify not in tx.after_commit:
        tx.after_commit.append(bus.notify)


def since(store: Store, api: str, owner: str, seq: int, limit: int = 500) -> list[dict[str, Any]]:
    """Events of ``owner`` after ``seq``, oldest first: ``{"seq", "id", "kind", "body"}``."""
    with store.read() as tx:
        rows = tx.execute(
            "SELECT seq, id, kind, body FROM events WHERE api=? AND owner=? AND seq>? "
            "ORDER BY seq LIMIT ?",
            (api, owner, seq, limit),
        ).fetchall()
    return [{"seq": r[0], "id": r[1], "kind": r[2], "body": r[3]} for r in rows]


def last_seq(store: Store) -> int:
    with store.read() as tx:
        return int(tx.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
