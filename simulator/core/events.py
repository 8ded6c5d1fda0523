"""Events: written in the state change's transaction, fanned out to SSE streams after commit."""

from __future__ import annotations

import json
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


STREAMS = 1000  # event streams one worker may hold open (each a server thread of its own)


class StreamPlaces:
    """How many event streams may be open at once in this process: ``per_owner`` for one
    merchant, ``total`` in all. Each open stream holds a server thread while it waits (the
    server is given ``total`` threads beyond the request threads), and one merchant may be
    held to fewer."""

    def __init__(self, per_owner: int, total: int) -> None:
        self.per_owner, self.total = per_owner, total
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self.probes = 0  # moved when every stream should write now (see ``probe``)

    def probe(self, bus: EventBus) -> None:
        """Ask every open stream to write a heartbeat now: a stream whose client has gone is
        only seen to be gone when written to, and then the server closes it and its place is
        given back."""
        with self._lock:
            self.probes += 1
        bus.notify()

    def take(self, owner: str) -> bool:
        """A place for a stream of ``owner``, if one is free."""
        with self._lock:
            if self._open.get(owner, 0) >= self.per_owner or sum(self._open.values()) >= self.total:
                return False
            self._open[owner] = self._open.get(owner, 0) + 1
            return True

    def give(self, owner: str) -> None:
        with self._lock:
            left = self._open.get(owner, 0) - 1
            if left > 0:
                self._open[owner] = left
            else:
                self._open.pop(owner, None)

    def held(self, owner: str) -> int:
        with self._lock:
            return self._open.get(owner, 0)


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


def listing(
    store: Store, api: str | None = None, owner: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """The first ``limit`` events, of one API and owner when given: ``{"seq", "api", "owner",
    "kind", "body"}``, the body parsed."""
    where, params = "1=1", list[Any]()
    if api:
        where, params = where + " AND api=?", [*params, api]
    if owner:
        where, params = where + " AND owner=?", [*params, owner]
    with store.read() as tx:
        rows = tx.execute(
            f"SELECT seq, api, owner, kind, body FROM events WHERE {where} ORDER BY seq LIMIT ?",
            (*params, limit),
        ).fetchall()
    return [
        {"seq": r[0], "api": r[1], "owner": r[2], "kind": r[3], "body": json.loads(r[4])}
        for r in rows
    ]


def about(store: Store, api: str, owner: str, obj_id: str) -> list[dict[str, Any]]:
    """The events of ``owner`` whose body names ``obj_id``, oldest first: ``{"seq", "id",
    "kind", "created_at", "body"}``, the body parsed."""
    with store.read() as tx:
        rows = tx.execute(
            "SELECT seq, id, kind, created_at, body FROM events "
            "WHERE api=? AND owner=? AND body LIKE ? ORDER BY seq",
            (api, owner, f'%"{obj_id}"%'),
        ).fetchall()
    return [
        {"seq": r[0], "id": r[1], "kind": r[2], "created_at": r[3], "body": json.loads(r[4])}
        for r in rows
    ]


def last_created(tx: Tx, api: str, owner: str) -> float | None:
    """When ``owner``'s newest event was written (in ``tx``), or None before its first."""
    row = tx.execute(
        "SELECT created_at FROM events WHERE api=? AND owner=? ORDER BY seq DESC LIMIT 1",
        (api, owner),
    ).fetchone()
    return None if row is None else float(row[0])
