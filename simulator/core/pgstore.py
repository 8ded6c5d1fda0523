"""The store on PostgreSQL (``--db postgresql://…``): psycopg 3 behind a connection pool, the same
tables (numbered migrations, applied at start), the same transactions.

Every write transaction takes one transaction-scoped advisory lock first, across every process
and machine sharing the database. A row-locking transaction (``store.tx(rows=True)``: the
creates, refunds, transitions, timers and deliveries) takes it shared and locks what it reads
and writes: the object (``SELECT … FOR UPDATE``), the idempotency key (its primary key, claimed
before the work), a named lock for the rest (``pg_advisory_xact_lock`` on the name). So writes
to different objects run side by side, and one object's writes queue. Any other write
transaction takes the lock exclusively and runs alone, as on SQLite's ``BEGIN IMMEDIATE``.
Reads run outside it, each statement on committed data.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from simulator.core.store import Store, Tx, transaction

WRITE_LOCK = 0x7061_7973  # "pays": the advisory lock every write transaction takes
MIGRATE_LOCK = 0x7061_796D
QMARK = re.compile(r"\?")


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return QMARK.sub("%s", sql.replace("%", "%%"))


def storable(value: Any) -> Any:
    """A value PostgreSQL's text can hold: it takes no NUL, which a client can put in an id, a
    filter or a field (SQLite's text takes it). Kept as the four characters ``\\x00``, as the
    client log keeps it: a lookup by such a value finds nothing, as on SQLite, instead of
    failing the request."""
    return value.replace("\x00", "\\x00") if type(value) is str and "\x00" in value else value


class PgTx(Tx):
    insertion = "seq"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conn: Any, rows: bool = False) -> None:
        super().__init__(conn, rows)
        self.for_update = " FOR UPDATE" if rows else ""

    def lock(self, name: str) -> None:
        if self.rows:
            self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Any:
        if isinstance(params, dict):
            params = {name: storable(value) for name, value in params.items()}
        elif params:
            params = tuple(storable(value) for value in params)
        return self.conn.execute(translate(sql), params or None)


class PostgresStore(Store):
    engine = "postgresql"

    def __init__(self, url: str, max_connections: int = 40) -> None:
        super().__init__(url)
        self.pool = ConnectionPool(
            url,
            min_size=2,
            max_size=max_connections,
            kwargs={"autocommit": True},
            open=True,
            timeout=30,
        )
        with self._begin(MIGRATE_LOCK) as tx:
            self._migrate(tx)

    def field(self, name: str) -> str:
        # jsonb refuses the escape \u0000 that a stored string may hold (SQLite's JSON takes
        # it): dropped before the cast, which only a filter on that very string could notice
        doc = f"(replace(data, '\\u0000', '')::jsonb -> '{name}')"
        return (
            f"(CASE jsonb_typeof({doc}) WHEN 'boolean' THEN "
            f"CASE WHEN ({doc})::text = 'true' THEN '1' ELSE '0' END "
            f"ELSE ({doc} #>> '{{}}') END)"
        )

    def horizon(self) -> str:
        # an event is final once every transaction older than its own has ended: none can
        # still commit one that a reader, going in (xid, seq) order, has already passed
        return "xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"

    @contextlib.contextmanager
    def _begin(self, lock: int, rows: bool = False) -> Iterator[PgTx]:
        with self.pool.connection() as conn, transaction(conn, "BEGIN"):
            take = "pg_advisory_xact_lock_shared" if rows else "pg_advisory_xact_lock"
            conn.execute(f"SELECT {take}(%s)", (lock,))
            yield PgTx(conn, rows)

    @contextlib.contextmanager
    def _write_tx(self, rows: bool = False) -> Iterator[Tx]:
        with self._begin(WRITE_LOCK, rows) as tx:
            yield tx

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self.pool.connection() as conn:
            yield PgTx(conn)

    def transient(self, error: BaseException) -> bool:
        # a deadlock PostgreSQL broke, a serialization or lock wait given up, a connection
        # lost or not had from the pool in time
        return isinstance(
            error,
            errors.DeadlockDetected
            | errors.SerializationFailure
            | errors.LockNotAvailable
            | psycopg.OperationalError
            | PoolTimeout,
        )

    def close(self) -> None:
        self.pool.close()
