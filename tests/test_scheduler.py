"""Timers: due order kept across batched transactions; a failing handler is dropped alone."""

from __future__ import annotations

from pathlib import Path

from simulator.core.scheduler import Scheduler
from simulator.core.sqlitestore import SqliteStore
from simulator.core.store import Tx


def make(tmp_path: Path, batch: int) -> tuple[SqliteStore, Scheduler, list[str]]:
    store = SqliteStore(str(tmp_path / "t.db"))
    scheduler = Scheduler(store, batch=batch)
    fired: list[str] = []

    def record(tx: Tx, obj_id: str, arg: str, due: float) -> None:
        fired.append(obj_id)
        if arg:  # a chained timer, due at once: it must run before later-due timers
            tx.add_timer(float(arg), "t", "record", f"{obj_id}+", "")

    def broken(tx: Tx, obj_id: str, arg: str, due: float) -> None:
        tx.insert("thing", obj_id, "o", {"half": "written"})
        raise RuntimeError("handler failed")

    scheduler.register("t", "record", record)
    scheduler.register("t", "broken", broken)
    return store, scheduler, fired


def test_chained_timers_keep_due_order_in_a_batch(tmp_path: Path) -> None:
    store, scheduler, fired = make(tmp_path, batch=20)
    with store.tx() as tx:
        tx.add_timer(1, "t", "record", "a", "1.5")  # adds a+ due at 1.5, before b
        tx.add_timer(2, "t", "record", "b")
        tx.add_timer(3, "t", "record", "c")
    assert scheduler.run_due(10) == 4
    assert fired == ["a", "a+", "b", "c"]


def test_a_failing_handler_is_rolled_back_and_dropped(tmp_path: Path) -> None:
    store, scheduler, fired = make(tmp_path, batch=20)
    with store.tx() as tx:
        tx.add_timer(1, "t", "broken", "x")
        tx.add_timer(2, "t", "record", "after")
    assert scheduler.run_due(10) == 2
    assert fired == ["after"]
    with store.read() as tx:
        assert tx.get("thing", "x") is None  # its half-done write is gone
        assert tx.execute("SELECT COUNT(*) FROM timers").fetchone()[0] == 0


def test_limit_bounds_one_run(tmp_path: Path) -> None:
    store, scheduler, fired = make(tmp_path, batch=3)
    with store.tx() as tx:
        for i in range(10):
            tx.add_timer(i, "t", "record", str(i))
    assert scheduler.run_due(100, limit=7) == 7
    assert scheduler.run_due(100) == 3
    assert fired == [str(i) for i in range(10)]


def test_the_write_lock_is_handed_over_in_arrival_order() -> None:
    """Writers queue on FairLock: the one that came first writes first, whoever runs sooner."""
    import threading
    import time

    from simulator.core.sqlitestore import FairLock

    lock = FairLock()
    order: list[int] = []
    threads = []
    lock.__enter__()

    def take(n: int) -> None:
        with lock:
            order.append(n)

    for n in range(6):
        t = threading.Thread(target=take, args=(n,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while len(lock._waiters) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    lock.__exit__()
    for t in threads:
        t.join(5)
    assert order == list(range(6))


def test_the_write_lock_excludes() -> None:
    import threading
    import time

    from simulator.core.sqlitestore import FairLock

    lock = FairLock()
    inside = [0]
    most = [0]

    def work() -> None:
        for _ in range(200):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0)
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 1 and inside[0] == 0
