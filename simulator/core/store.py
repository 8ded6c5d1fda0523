"""The store's interface: what the domain asks of either engine (``sqlitestore``, ``pgstore``;
``engines.open_store`` picks one by the ``--db`` URL).

Objects are JSON documents keyed by (kind, id) and owned by a merchant. The interface is small
(``tx()``, ``get``, ``put``, ``list``, ``count``, ``field``, plus the tables the shared machinery
uses); the tables come from numbered migrations (``migrate``), applied at start.
"""

from __future__ import annotations

import abc
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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

    def insert(self, kind: str, obj_id: str, owner: str, data: Mapping[str, Any]) -> None:
        self.execute(
            "INSERT INTO objects (kind, id, owner, data) VALUES (?, ?, ?, ?)",
            (kind, obj_id, owner, codec.dumps(data)),
        )

    def update(self, kind: str, obj_id: str, data: Mapping[str, Any]) -> None:
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

    def trim(self, table: str, *, age: str, before: float, order: str, rows: int) -> int:
        """Delete the rows of ``table`` whose ``age`` column is under ``before``, and all but
        the last ``rows`` in ``order``; how many went. Its owner says when (core/retention.py)."""
        gone = self.execute(f"DELETE FROM {table} WHERE {age} < ?", (before,)).rowcount
        gone += self.execute(
            f"DELETE FROM {table} WHERE {order} < "
            f"(SELECT {order} FROM {table} ORDER BY {order} DESC LIMIT 1 OFFSET ?)",
            (rows - 1,),
        ).rowcount
        return max(gone, 0)


@contextlib.contextmanager
def transaction(conn: Any, begin: str) -> Iterator[None]:
    """The work of the block on ``conn`` between ``begin`` and COMMIT; ROLLBACK when it
    raises."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Store(abc.ABC):
    """A store of one engine: write transactions (``tx``), reads (``read``), and the SQL that
    differs between engines."""

    engine = ""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def _migrate(self, tx: Tx) -> None:
        """Apply the migrations not yet applied, in order (at start, in one transaction)."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        migrate.apply(self.engine, tx.execute, now)

    @abc.abstractmethod
    def field(self, name: str) -> str:
        """SQL for a top-level field of an object's document, as text (true/false as 1/0)."""

    @abc.abstractmethod
    def horizon(self) -> str:
        """SQL true for an event that no reader can still see committed ahead of one before
        it."""

    @abc.abstractmethod
    def transient(self, error: BaseException) -> bool:
        """True when ``error`` says the store was busy, not that the work is wrong: the
        transaction rolled back, and the same request may be sent again."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the store holds."""

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

    @abc.abstractmethod
    def _write_tx(self, rows: bool = False) -> contextlib.AbstractContextManager[Tx]:
        """One write transaction of this engine, begun and committed (or rolled back)."""

    @abc.abstractmethod
    def read(self) -> contextlib.AbstractContextManager[Tx]:
        """Reads outside a write transaction (each statement sees committed data)."""

    def wipe(self) -> None:
        with self.tx() as tx:
            for table in TABLES:
                tx.execute(f"DELETE FROM {table}")
