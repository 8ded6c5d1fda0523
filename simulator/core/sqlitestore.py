"""The store on SQLite (the default engine): a file in WAL mode, read through connections lent
to one read at a time (as many as read at once) and written through one per process, or
``:memory:`` for tests; one ``BEGIN IMMEDIATE`` transaction per state change, writers queued in
order within a process (``FairLock``) and across the processes of one file (``WriterLock``)."""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator

from simulator.core.store import Store, Tx, transaction


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


class SqliteStore(Store):
    """SQLite: a file path (WAL, reading connections lent to one read at a time, one writing
    connection) or
    ``:memory:`` (one shared connection behind a lock, for tests)."""

    engine = "sqlite"

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._memory = path == ":memory:"
        self._lock = threading.RLock()
        self._write_lock = FairLock()
        self._writers: contextlib.AbstractContextManager[None] = (
            contextlib.nullcontext() if self._memory else WriterLock(path)
        )
        self._shared: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._writer_pid = 0
        # reading connections at rest, the last given back on top (its pages still cached):
        # as many as ever read at once, not one per thread (an event stream holds a thread)
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._readers_pid = os.getpid()
        with self.tx() as tx:
            self._migrate(tx)

    def field(self, name: str) -> str:
        """SQL for a top-level field of an object's document, as text (true/false as 1/0)."""
        return f"CAST(json_extract(data, '$.{name}') AS TEXT)"

    def close(self) -> None:
        """The reading connections at rest are closed (the writer closes with the process)."""
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

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
        with self._readers_lock:
            if self._readers_pid != os.getpid():  # a forked child opens its own
                self._readers, self._readers_pid = [], os.getpid()
            conn = self._readers.pop() if self._readers else None
        if conn is None:
            conn = self._open()
        try:
            yield conn
        finally:
            with self._readers_lock:
                self._readers.append(conn)

    def horizon(self) -> str:
        """SQL true for an event that no reader can still see committed ahead of one before
        it: every event here (one writer at a time)."""
        return "1=1"

    def _write_connection(self) -> sqlite3.Connection:
        """The one connection this process writes through, used by whichever thread holds the
        write lock. A connection's page cache is dropped whenever another connection has
        written, so with a connection per thread every write began by reading its pages again
        (measured: 32 threads writing in turn cost 70 % more CPU per create than one thread);
        one writer keeps its cache while no other process writes. A forked child opens its
        own."""
        if self._writer is None or self._writer_pid != os.getpid():
            self._writer = self._open()
            self._writer_pid = os.getpid()
        return self._writer

    @contextlib.contextmanager
    def _write_tx(self, rows: bool = False) -> Iterator[Tx]:
        """Writers of this process queue, in arrival order, then take the turn of the file's
        processes, before ``BEGIN IMMEDIATE``: SQLite's own busy handler sleeps in steps of up
        to 100 ms, which would put those sleeps into p99.
        """
        if self._memory:
            with self._write_lock, self._connection() as conn, transaction(conn, "BEGIN IMMEDIATE"):
                yield Tx(conn)
            return
        with self._write_lock, self._writers:
            conn = self._write_connection()
            with transaction(conn, "BEGIN IMMEDIATE"):
                yield Tx(conn)

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        """Reads outside a write transaction (each statement sees committed data); inside one
        of this thread's, through it (what it wrote is seen, as it always was)."""
        current = getattr(self._local, "tx", None)
        if current is not None:
            yield Tx(current.conn)
            return
        with self._connection() as conn:
            yield Tx(conn)
