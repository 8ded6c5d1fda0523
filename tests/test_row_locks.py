"""Row-locking write transactions on PostgreSQL: writes to different objects run side by side,
one object's writes queue, and what used to rest on one writer at a time still holds: no lost
update, no event passed over by a stream, each due timer fired once and in its object's order.
Each guard is also shown to be the one that holds: without it the same race goes wrong."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from simulator.core import events
from simulator.core.engines import open_store
from simulator.core.events import EventBus
from simulator.core.pgstore import PostgresStore
from simulator.core.scheduler import Scheduler
from simulator.core.store import Tx
from tests.conftest import database

pytestmark = pytest.mark.server


@pytest.fixture()
def store(request: pytest.FixtureRequest) -> Iterator[PostgresStore]:
    opened = open_store(str(database(request, "postgresql")))
    assert isinstance(opened, PostgresStore)
    try:
        yield opened
    finally:
        opened.close()


def _in_thread(work: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_writes_to_different_objects_run_side_by_side_and_one_objects_queue(
    store: PostgresStore,
) -> None:
    with store.tx() as tx:
        tx.insert("thing", "a", "m", {"n": 0})
        tx.insert("thing", "b", "m", {"n": 0})
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.tx(rows=True) as tx:
            tx.get("thing", "a")
            held.set()
            release.wait(10)

    def write(obj: str, rows: bool) -> Callable[[], None]:
        def work() -> None:
            with store.tx(rows=rows) as tx:
                doc = tx.get("thing", obj)
                assert doc is not None
                tx.update("thing", obj, {"n": doc["n"] + 1})

        return work

    first = _in_thread(holder)
    assert held.wait(5)
    other = _in_thread(write("b", rows=True))
    other.join(5)
    assert not other.is_alive(), "a write to another object waited on the held one"
    same = _in_thread(write("a", rows=True))
    alone = _in_thread(write("b", rows=False))  # not row-locking: runs alone
    time.sleep(0.5)
    assert same.is_alive(), "a second write to the held object did not wait"
    assert alone.is_alive(), "a transaction that runs alone ran beside a row-locking one"
    release.set()
    for thread in (first, same, alone):
        thread.join(5)
        assert not thread.is_alive()
    with store.read() as tx:
        assert tx.get("thing", "a") == {"n": 1}
        assert tx.get("thing", "b") == {"n": 2}


def _increments(store: PostgresStore, transaction: Callable[[], Any], threads: int = 20) -> int:
    """Racing read-then-write increments of one object, each in ``transaction()``."""
    with transaction() as tx:
        tx.execute("DELETE FROM objects WHERE kind='counter'")
        tx.insert("counter", "c", "m", {"n": 0})

    def bump() -> None:
        with transaction() as tx:
            doc = tx.get("counter", "c")
            time.sleep(0.005)
            tx.update("counter", "c", {"n": doc["n"] + 1})

    workers = [_in_thread(bump) for _ in range(threads)]
    for worker in workers:
        worker.join(30)
    with store.read() as tx:
        return int(tx.get("counter", "c")["n"])


def test_a_read_in_a_row_locking_transaction_locks_the_object(store: PostgresStore) -> None:
    def row_locking() -> Any:
        return store.tx(rows=True)

    @contextlib.contextmanager
    def without_the_row_lock() -> Iterator[Tx]:
        with store.tx(rows=True) as tx:
            tx.for_update = ""  # the same transaction, its reads no longer locking
            yield tx

    assert _increments(store, row_locking) == 20
    assert _increments(store, without_the_row_lock) < 20, "racing increments lost nothing"


def _event(tx: Tx, bus: EventBus, name: str) -> None:
    events.record(
        tx, bus, event_id=name, api="freefin", owner="m", kind="k", body={"n": name}, now=0.0
    )


@pytest.mark.parametrize("guarded", [True, False], ids=["horizon", "no_horizon"])
def test_a_stream_never_passes_over_an_event_that_commits_late(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch, guarded: bool
) -> None:
    """Two transactions write events side by side; the one that wrote first commits last. A
    stream reading in between must not move past the late one."""
    if not guarded:
        monkeypatch.setattr(store, "horizon", lambda: "1=1")
    bus = EventBus()
    cursor = events.last(store)
    written = threading.Event()
    release = threading.Event()

    def late() -> None:
        with store.tx(rows=True) as tx:
            _event(tx, bus, "early-seq-late-commit")
            written.set()
            release.wait(10)

    slow = _in_thread(late)
    assert written.wait(5)
    with store.tx(rows=True) as tx:
        _event(tx, bus, "late-seq-early-commit")
    seen: list[str] = []
    for event in events.since(store, "freefin", "m", cursor):
        seen.append(event["id"])
        cursor = event["cursor"]
    release.set()
    slow.join(5)
    for event in events.since(store, "freefin", "m", cursor):
        seen.append(event["id"])
    if guarded:
        assert seen == ["early-seq-late-commit", "late-seq-early-commit"]
    else:
        assert seen == ["late-seq-early-commit"], "the race did not happen"


def test_two_schedulers_fire_each_due_timer_once_in_its_objects_order(
    request: pytest.FixtureRequest,
) -> None:
    """Two processes' schedulers (two stores on one database) race over 600 due timers of 200
    objects: each fires once, and an object's timers fire in due order."""
    url = str(database(request, "postgresql"))
    stores = [open_store(url), open_store(url)]
    fired: list[tuple[str, int]] = []
    guard = threading.Lock()
    try:
        with stores[0].tx() as tx:
            for obj in range(200):
                tx.insert("thing", f"o{obj}", "m", {})
                for step in range(3):
                    tx.add_timer(obj + step / 10, "t", "step", f"o{obj}", str(step))

        def handler(tx: Tx, obj_id: str, arg: str, _due: float) -> None:
            tx.get("thing", obj_id)
            time.sleep(0.003)
            with guard:
                fired.append((obj_id, int(arg)))

        def run(store: Any) -> None:
            scheduler = Scheduler(store, batch=10)
            scheduler.register("t", "step", handler)
            while scheduler.run_due(now=1000.0):
                pass

        threads = [_in_thread(lambda s=s: run(s)) for s in stores]  # type: ignore[misc]
        for thread in threads:
            thread.join(60)
    finally:
        for opened in stores:
            opened.close()
    assert len(fired) == 600 and len(set(fired)) == 600
    steps: dict[str, list[int]] = {}
    for obj_id, step in fired:
        steps.setdefault(obj_id, []).append(step)
    assert all(order == [0, 1, 2] for order in steps.values())
