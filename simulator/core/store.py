"""The store: SQLite in WAL mode, one ``BEGIN IMMEDIATE`` transaction per state change; or
PostgreSQL (``pgstore``) behind the same interface, chosen by ``open_store``'s URL.

Objects are JSON documents keyed by (kind, id) and owned by a merchant. The interface is small
(``tx()``, ``get``, ``put``, ``list``, ``count``, ``field``, plus the tables the shared machinery
uses); the tables come from numbered migrations (``migrate``), applied at start.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from simulator.core import codec, migrate

TABLES = ("objects", "idempotency", "events", "deliveries", "timers", "meta")


class Tx:
    """One open transaction: reads and writes through it commit together.

    In a row-locking transaction (``store.tx(rows=True)``) on an engine with row locks, ``get``
    locks the object it reads until commit; ``lock(name)`` takes a named lock for what is not
    one row. On SQLite, where one transaction writes at a time, both are free.
    """

    insertion = "rowid"  # the column that gives the order rows were inserted in
    for_update = ""  # the suffix of a read that locks its rows (a row-locking transaction's)
    skip_locked = ""  # the suffix of a read that takes the rows no other transaction holds

    def __init__(self, conn: Any, rows: bool = False) -> None:  # sqlite3 or psycopg
        self.conn = conn
        self.rows = rows
        self.after_commit: list[Callable[[], None]] = []
        self.added_due: float | None = None  # the earliest timer added (the scheduler reads it)

    def lock(self, name: str) -> None:
        """Hold ``name`` until commit against other row-locking transactions (free here)."""

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def get(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        row = self.execute(
            "SELECT data FROM objects WHERE kind=? AND id=?" + self.for_update, (kind, obj_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def insert(self, kind: str, obj_id: str, owner: str, data: dict[str, Any]) -> None:
        self.execute(
            "INSERT INTO objects (kind, id, owner, data) VALUES (?, ?, ?, ?)",
            (kind, obj_id, owner, codec.dumps(data)),
        )

    def update(self, kind: str, obj_id: str, data: dict[str, Any]) -> None:
        self.execute(
            "UPDATE objects SET data=? WHERE kind=? AND id=?",
            (codec.dumps(data), kind, obj_id),
        )

    def list(
        self,
        kind: str,
        owner: str,
        where: str = "",
        params: tuple[Any, ...] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Objects of ``owner``, newest first; ``where`` may use ``store.field(name)``."""
        sql = "SELECT data FROM objects WHERE kind=? AND owner=?"
        if where:
            sql += f" AND ({where})"
        sql += f" ORDER BY {self.insertion} DESC LIMIT ? OFFSET ?"
        rows = self.execute(sql, (kind, owner, *params, limit, offset)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, kind: str, owner: str, where: str = "", params: tuple[Any, ...] = ()) -> int:
        sql = "SELECT COUNT(*) FROM objects WHERE kind=? AND owner=?"
        if where:
            sql += f" AND ({where})"
        return int(self.execute(sql, (kind, owner, *params)).fetchone()[0])

    def get_meta(self, key: str, default: Any = None, lock: bool = False) -> Any:
        """A meta value; ``lock``: held until commit (made first when missing, so that
        writers of a new key queue too)."""
        if lock and self.for_update:
            self.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, json.dumps(default)),
            )
        suffix = self.for_update if lock else ""
        row = self.execute("SELECT value FROM meta WHERE key=?" + suffix, (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )

    def add_timer(self, due_at: float, api: str, action: str, obj_id: str, arg: str = "") -> None:
        if self.added_due is None or due_at < self.added_due:
            self.added_due = due_at
        self.execute(
            "INSERT INTO timers (due_at, api, action, obj_id, arg) VALUES (?, ?, ?, ?, ?)",
            (due_at, api, action, obj_id, arg),
        )


class FairLock:
    """A lock handed to its waiters in arrival order.

    ``threading.Lock`` lets whichever thread runs first take a released lock, so with many
    writers queued some wait many turns: measured at 32 connections, the slowest writes.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: collections.deque[threading.Lock] = collections.deque()

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        try:
            turn.acquire()  # __exit__ hands the lock over, still held
        except BaseException:  # interrupted while queued: leave the queue, or pass the lock on
            with self._guard:
                queued = turn in self._waiters
                if queued:
                    self._waiters.remove(turn)
            if not queued:
                self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False


class WriterLock:
    """The write turn across the processes of one SQLite file (``--workers``): an exclusive
    ``flock`` on ``<db>-writer.lock``, taken by one thread per process at a time (after
    ``FairLock``). A writer of another process waits in the kernel, woken when the turn is
    free, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms with no
    order between the waiters. The kernel lets it go with the process, kill -9 included."""

    def __init__(self, path: str) -> None:
        self.path = path + "-writer.lock"
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


class Store:
    """SQLite store. A file path (WAL, a connection per thread) or ``:memory:`` (one shared
    connection behind a lock, for tests)."""

    engine = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._memory = path == ":memory:"
        self._lock = threading.RLock()
        self._write_lock = FairLock()
        self._writers: contextlib.AbstractContextManager[None] = (
            contextlib.nullcontext() if self._memory else WriterLock(path)
        )
        self._shared: sqlite3.Connection | None = None
        with self.tx() as tx:
            tx.execute(migrate.TABLE)
            applied = {row[0] for row in tx.execute("SELECT version FROM schema_migrations")}
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            migrate.apply(self.engine, tx.execute, applied, now)

    def field(self, name: str) -> str:
        """SQL for a top-level field of an object's document, as text (true/false as 1/0)."""
        return f"CAST(json_extract(data, '$.{name}') AS TEXT)"

    def close(self) -> None:
        """Nothing to release: each thread's connection closes with it."""

    def transient(self, error: BaseException) -> bool:
        """True when ``error`` says the store was busy, not that the work is wrong: the
        transaction rolled back, and the same request may be sent again."""
        text = str(error).lower()
        return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        if not self._memory:
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL: a committed transaction survives a process kill (kill -9);
            # only an OS crash or power loss could lose the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._memory:
            with self._lock:
                if self._shared is None:
                    self._shared = self._open()
                yield self._shared
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        yield conn

    def horizon(self) -> str:
        """SQL true for an event that no reader can still see committed ahead of one before
        it: every event here (one writer at a time)."""
        return "1=1"

    @contextlib.contextmanager
    def tx(self, rows: bool = False) -> Iterator[Tx]:
        """A write transaction; callbacks in ``tx.after_commit`` run once it has committed.
        Opened again by the thread that holds one, it is that one (the work joins it).

        ``rows``: the work locks what it reads and writes (``Tx.get``, ``Tx.lock``), so that on
        an engine with row locks it runs beside other row-locking transactions; any other
        transaction runs alone. On SQLite every write transaction runs alone."""
        current = getattr(self._local, "tx", None)
        if current is not None:
            yield current
            return
        with self._write_tx(rows) as tx:
            self._local.tx = tx
            try:
                yield tx
            finally:
                self._local.tx = None
        for callback in tx.after_commit:
            callback()

    @contextlib.contextmanager
    def _write_tx(self, rows: bool = False) -> Iterator[Tx]:
        """Writers of this process queue, in arrival order, then take the turn of the file's
        processes, before ``BEGIN IMMEDIATE``: SQLite's own busy handler sleeps in steps of up
        to 100 ms, which would put those sleeps into p99.
        """
        with self._write_lock, self._writers, self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            tx = Tx(conn)
            try:
                yield tx
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        """Reads outside a write transaction (each statement sees committed data)."""
        with self._connection() as conn:
            yield Tx(conn)

    def wipe(self) -> None:
        with self.tx() as tx:
            for table in TABLES:
                tx.execute(f"DELETE FROM {table}")


def open_store(url: str) -> Store:
    """The store a ``--db`` value names: ``postgresql://…`` or a SQLite file (or ``:memory:``)."""
    if url.startswith(("postgresql://", "postgres://")):
        from simulator.core.pgstore import PostgresStore

        return PostgresStore(url)
    return Store(url)
