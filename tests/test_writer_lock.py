"""Writers of several processes over one SQLite file take turns through the store's writer lock
(a flock beside the file), in the kernel, not in SQLite's busy handler. Two opens of one file in
one process hold two turns, as two processes do."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from simulator.core.sqlitestore import SqliteStore


def test_a_writer_of_another_process_waits_its_turn_then_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "sim.db")
    first, second = SqliteStore(path), SqliteStore(path)
    holding, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def hold() -> None:
        with first.tx():
            holding.set()
            release.wait(10)

    def write() -> None:
        try:
            # SQLite alone would refuse at once
            second._write_connection().execute("PRAGMA busy_timeout=0")
            with second.tx() as tx:
                tx.set_meta("written", 1)
            outcome.append("written")
        except Exception as exc:
            outcome.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    assert outcome == []  # waiting for its turn, not refused
    release.set()
    holder.join(10)
    writer.join(10)
    assert outcome == ["written"]
    with first.read() as tx:
        assert tx.get_meta("written") == 1


def test_the_turn_is_a_file_beside_the_database(tmp_path: Path) -> None:
    path = tmp_path / "sim.db"
    with SqliteStore(str(path)).tx() as tx:
        tx.set_meta("x", 1)
    assert (tmp_path / "sim.db-writer.lock").exists()


def test_every_thread_writes_through_one_connection_and_reads_what_it_wrote(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "sim.db"))
    seen: list[object] = []

    def write(n: int) -> None:
        with store.tx() as tx:
            tx.set_meta(f"k{n}", n)
            with store.read() as inside:  # inside its own transaction: what it wrote
                seen.append(inside.get_meta(f"k{n}"))
            seen.append(tx.conn)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    values, connections = seen[0::2], seen[1::2]
    assert sorted(values) == list(range(8))  # type: ignore[type-var]
    assert len({id(c) for c in connections}) == 1
    with store.read() as tx:  # another thread's connection: everything committed
        assert [tx.get_meta(f"k{n}") for n in range(8)] == list(range(8))
