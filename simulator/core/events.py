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


Cursor = tuple[int, int]  # (xid, seq): where a reader is in the order events become final


def since(
    store: Store, api: str, owner: str, after: Cursor, limit: int = 500
) -> list[dict[str, Any]]:
    """Events of ``owner`` after the cursor ``after``, in order: ``{"cursor", "seq", "id",
    "kind", "body"}``. Only final events (``store.horizon()``): none that a transaction still
    running could precede."""
    with store.read() as tx:
        rows = tx.execute(
            "SELECT xid, seq, id, kind, body FROM events WHERE api=? AND owner=? "
            f"AND (xid, seq) > (?, ?) AND {store.horizon()} ORDER BY xid, seq LIMIT ?",
            (api, owner, *after, limit),
        ).fetchall()
    return [
        {"cursor": (int(r[0]), int(r[1])), "seq": r[1], "id": r[2], "kind": r[3], "body": r[4]}
        for r in rows
    ]


def last(store: Store) -> Cursor:
    """The cursor after every final event: a new stream starts there."""
    with store.read() as tx:
        row = tx.execute(
            f"SELECT xid, seq FROM events WHERE {store.horizon()} "
            "ORDER BY xid DESC, seq DESC LIMIT 1"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def at(store: Store, seq: int) -> Cursor:
    """The cursor of the event numbered ``seq`` (a stream's Last-Event-ID), or of the last
    event before it when that one is gone."""
    with store.read() as tx:
        row = tx.execute(
            "SELECT xid, seq FROM events WHERE seq<=? ORDER BY seq DESC LIMIT 1", (seq,)
        ).fetchone()
    return (int(row[0]), seq) if row else (0, seq)
