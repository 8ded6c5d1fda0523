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
            with second._connection() as conn:
                conn.execute("PRAGMA busy_timeout=0")  # SQLite alone would refuse at once
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
