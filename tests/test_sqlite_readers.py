"""SQLite reads borrow a connection for the read alone (simulator/core/sqlitestore.py): the store
opens as many reading connections as ever read at once, not one per thread, so the thousand
threads of open event streams do not each keep a connection and its page cache."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from simulator.core.sqlitestore import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(str(tmp_path / "sim.db"))


def _count_opens(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened = [0]
    real = store._open

    def counting() -> object:
        opened[0] += 1
        return real()

    monkeypatch.setattr(store, "_open", counting)
    return opened


def _read(store: SqliteStore) -> int:
    with store.read() as tx:
        return int(tx.execute("SELECT 1").fetchone()[0])


def test_threads_reading_in_turn_share_one_connection(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _count_opens(store, monkeypatch)
    for _ in range(40):  # forty threads, one after another: one reading connection
        thread = threading.Thread(target=_read, args=(store,))
        thread.start()
        thread.join()
    assert opened[0] == 1


def test_reads_at_once_open_as_many_connections(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _count_opens(store, monkeypatch)
    together = threading.Barrier(5)

    def read_together() -> None:
        with store.read() as tx:
            together.wait(10)  # five reads open at once
            tx.execute("SELECT 1").fetchone()

    threads = [threading.Thread(target=read_together) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert opened[0] == 5
    for _ in range(20):  # and then reused
        _read(store)
    assert opened[0] == 5


def test_a_read_in_a_write_sees_what_it_wrote_and_others_do_not(store: SqliteStore) -> None:
    seen_elsewhere: list[int] = []
    with store.tx() as tx:
        tx.set_meta("probe", 7)
        with store.read() as inside:
            assert inside.get_meta("probe") == 7
        other = threading.Thread(
            target=lambda: seen_elsewhere.append(_meta(store)), name="another reader"
        )
        other.start()
        other.join()
    assert seen_elsewhere == [0]
    assert _meta(store) == 7


def _meta(store: SqliteStore) -> int:
    with store.read() as tx:
        return int(tx.get_meta("probe", 0))
