"""Events: written in the state change's transaction, fanned out to SSE streams after commit."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from simulator.core import codec
from simulator.core.store import Store, Tx

log = logging.getLogger(__name__)


Owner = tuple[str, str]  # (api, owner): whose streams an event concerns
T = TypeVar("T")

SHARED_POLL_S = 0.2  # how often a process of a shared store looks for events others wrote


class EventBus:
    """Wakes the event streams of one owner when that owner's events are committed: by this
    process (``record``'s after-commit), or, on a store other processes write too, by one
    poller per process (``follow``) that looks for new events every ``SHARED_POLL_S`` while
    any stream is open. Every stream waits on its owner's condition, so an event wakes only
    its owner's streams; ``notify_all`` wakes them all (a reset), ``poke_all`` with no news
    (a probe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one lock under every owner's condition
        self._owners: dict[Owner, _Watched] = {}
        self._store: Store | None = None
        self._poller: threading.Thread | None = None

    def follow(self, store: Store) -> None:
        """Look for events other processes write to ``store``, while any stream is open."""
        self._store = store

    def join(self, owner: Owner) -> None:
        """A stream of ``owner`` waits here from now on (until ``leave``)."""
        with self._lock:
            watched = self._owners.get(owner)
            if watched is None:
                watched = self._owners[owner] = _Watched(threading.Condition(self._lock))
            watched.streams += 1
            if self._store is not None and self._poller is None:
                self._poller = threading.Thread(
                    target=self._poll, args=(self._store,), daemon=True, name="paysim-events"
                )
                self._poller.start()

    def leave(self, owner: Owner) -> None:
        with self._lock:
            watched = self._owners[owner]
            watched.streams -= 1
            if not watched.streams:
                del self._owners[owner]

    def version(self, owner: Owner) -> int:
        """How many times ``owner``'s streams were woken: ``wait`` returns when it moves."""
        with self._lock:
            watched = self._owners.get(owner)
            return watched.version if watched else 0

    def wait(self, owner: Owner, seen: int, timeout: float) -> int:
        """Block until ``owner``'s version moves past ``seen``, ``timeout`` passes or
        ``poke_all``; return the version. Only a stream that has joined may wait."""
        with self._lock:
            watched = self._owners[owner]
            if watched.version == seen:
                watched.cond.wait(timeout)
            return watched.version

    def notify(self, owner: Owner) -> None:
        """Wake the streams of ``owner`` (none when none is open)."""
        with self._lock:
            watched = self._owners.get(owner)
            if watched is not None:
                watched.version += 1
                watched.cond.notify_all()

    def notify_all(self) -> None:
        """Wake every stream to read again (after a reset, say)."""
        with self._lock:
            for watched in self._owners.values():
                watched.version += 1
                watched.cond.notify_all()

    def poke_all(self) -> None:
        """Wake every stream without telling it of anything new (a probe)."""
        with self._lock:
            for watched in self._owners.values():
                watched.cond.notify_all()

    def _poll(self, store: Store) -> None:
        """The process's one poller: while any stream is open, every ``SHARED_POLL_S`` it reads
        the newest final event of each owner whose streams wait (one indexed read per owner,
        however many streams), and wakes those owners whose newest has moved."""
        seen: dict[Owner, Cursor] = {}
        while True:
            time.sleep(SHARED_POLL_S)
            with self._lock:
                if not self._owners:
                    self._poller = None
                    return
                watched = list(self._owners)
            seen = {owner: seen[owner] for owner in watched if owner in seen}
            for owner in watched:
                try:
                    cursor = newest(store, owner)
                except Exception:  # the store may be busy or restarting: look again next time
                    log.warning("looking for new events failed", exc_info=True)
                    continue
                if seen.get(owner) != cursor:  # and on the first look: what came before it
                    self.notify(owner)
                seen[owner] = cursor


@dataclass
class _Watched:
    cond: threading.Condition
    version: int = 0
    streams: int = 0


@dataclass(frozen=True)
class _Wake:
    """After a commit: wake ``owner``'s streams (once per transaction: equal ones are one)."""

    bus: EventBus
    owner: Owner

    def __call__(self) -> None:
        self.bus.notify(self.owner)


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
        """Ask every open stream whether its client is still there, now: a stream whose client
        has gone is only seen to be gone when it hands the server a chunk (an empty one will
        do, and writes nothing), and then the server closes it and its place is given back."""
        with self._lock:
            self.probes += 1
        bus.poke_all()

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

    def held_all(self) -> int:
        with self._lock:
            return sum(self._open.values())


class Held(Generic[T]):
    """A stream's chunks that give its place back when the server closes it (its client gone,
    seen at the next chunk the stream hands the server), started or not: a generator never
    started runs no ``finally`` when closed."""

    def __init__(self, inner: Iterator[T], release: Callable[[], None]) -> None:
        self.inner, self.release = inner, release
        self.released = False

    def __iter__(self) -> Held[T]:
        return self

    def __next__(self) -> T:
        return next(self.inner)

    def close(self) -> None:
        try:
            close = getattr(self.inner, "close", None)
            if close is not None:
                close()
        finally:
            if not self.released:
                self.released = True
                self.release()


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
    wake = _Wake(bus, (api, owner))
    if wake not in tx.after_commit:
        tx.after_commit.append(wake)


Cursor = tuple[int, int]  # (xid, seq): where a reader is in the order events become final


def since(
    store: Store, api: str, owner: str, after: Cursor, limit: int = 500
) -> list[dict[str, Any]]:
    """Events of ``owner`` after the cursor ``after``, in order: ``{"cursor", "seq", "id",
    "kind", "body"}``. Only final events (``store.horizon()``): none that a transaction still
    running could precede. Two seeks on the index (api, owner, xid, seq), merged: a row value
    ``(xid, seq) > (?, ?)`` is sought by xid alone in SQLite, which then reads past every event
    of the owner with the cursor's xid (on SQLite, where xid is 0: all of them)."""
    columns, where = "xid, seq, id, kind, body", f"api=? AND owner=? AND {store.horizon()}"
    xid, seq = after
    with store.read() as tx:
        rows = tx.execute(
            f"SELECT {columns} FROM (SELECT {columns} FROM events WHERE {where} AND xid=? "
            f"AND seq>? UNION ALL SELECT {columns} FROM events WHERE {where} AND xid>?) "
            "AS newer ORDER BY xid, seq LIMIT ?",
            (api, owner, xid, seq, api, owner, xid, limit),
        ).fetchall()
    return [
        {"cursor": (int(r[0]), int(r[1])), "seq": r[1], "id": r[2], "kind": r[3], "body": r[4]}
        for r in rows
    ]


def newest(store: Store, owner: Owner) -> Cursor:
    """The cursor of ``owner``'s newest final event ((0, 0) before the first): where a new
    stream of ``owner`` starts, as after every final event (none of ``owner``'s is between)."""
    with store.read() as tx:
        row = tx.execute(
            f"SELECT xid, seq FROM events WHERE api=? AND owner=? AND {store.horizon()} "
            "ORDER BY xid DESC, seq DESC LIMIT 1",
            owner,
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def last(store: Store) -> Cursor:
    """The cursor after every final event, of any owner."""
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


def prune_events(tx: Tx, before: float, rows: int) -> int:
    """Delete the events made before ``before`` (simulated time) and all but the newest ``rows``;
    how many went. Retention (``core/retention.py``) decides when and how much."""
    gone = tx.execute("DELETE FROM events WHERE created_at < ?", (before,)).rowcount
    newest = "SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?"  # the oldest one kept
    gone += tx.execute(f"DELETE FROM events WHERE seq < ({newest})", (rows - 1,)).rowcount
    return max(gone, 0)
