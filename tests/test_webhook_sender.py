"""The webhook sender under a backlog: it leases no more deliveries than its threads can start
on (a backlog waits in the store, each delivery sent once), keeps its connections open, and
records the attempts made while the store was busy together."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from simulator.core.clock import Clock
from simulator.core.dispatcher import Attempt, Dispatcher
from simulator.core.engines import open_store
from simulator.core.store import Store
from simulator.core.webhooks import WebhookConfig, enqueue


class Gate:
    """A receiver (HTTP/1.1, keep-alive) that holds every request until opened, and notes the
    connection each came on."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.peers: list[tuple[str, int]] = []
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gate.open.wait(20)
                gate.peers.append(self.client_address)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def gate() -> Iterator[Gate]:
    receiver = Gate()
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    yield receiver
    receiver.open.set()
    receiver.server.shutdown()
    receiver.server.server_close()


def _backlog(url: str, n: int) -> Store:
    store = open_store(":memory:")
    with store.tx() as tx:
        for i in range(n):
            enqueue(tx, api="freefin", owner="m", event_id=f"e{i}", kind="k", url=url,
                    headers={}, body=b"{}", now=Clock().now())  # fmt: skip
    return store


def _count(store: Store, where: str) -> int:
    with store.read() as tx:
        return int(tx.execute(f"SELECT COUNT(*) FROM deliveries WHERE {where}").fetchone()[0])


def _leased_while_held(gate: Gate, slots: int | None = None) -> tuple[int, Dispatcher, Store]:
    """60 deliveries due (more than two threads' slots), the receiver holding every request: how
    many the sender leased after taking the due ones many times over."""
    store = _backlog(gate.url, 60)
    sender = Dispatcher(store, Clock(), WebhookConfig(), workers=2)
    if slots is not None:
        sender.slots = slots
    for _ in range(20):
        sender.run_due()
        time.sleep(0.01)
    return _count(store, "status='sending'"), sender, store


def _drain(sender: Dispatcher, store: Store) -> None:
    deadline = time.monotonic() + 30
    while _count(store, "status!='delivered'") and time.monotonic() < deadline:
        sender.run_due()
        time.sleep(0.02)


def test_a_backlog_waits_in_the_store_and_each_delivery_is_sent_once(gate: Gate) -> None:
    leased, sender, store = _leased_while_held(gate)
    assert leased == sender.slots < 60
    gate.open.set()
    _drain(sender, store)
    assert _count(store, "status='delivered'") == 60 and len(gate.peers) == 60
    with store.read() as tx:
        assert tx.execute("SELECT SUM(attempts) FROM deliveries").fetchone()[0] == 60
    sender.shutdown()


def test_without_the_bound_the_whole_backlog_is_leased_at_once(gate: Gate) -> None:
    leased, sender, _ = _leased_while_held(gate, slots=10**6)
    assert leased == 60  # its leases would run out before their turn came
    sender.shutdown()


def _connections(gate: Gate, sender: Dispatcher, store: Store) -> int:
    gate.open.set()
    _drain(sender, store)
    assert len(gate.peers) == 60
    return len(set(gate.peers))


def test_each_sending_thread_keeps_its_connection(gate: Gate) -> None:
    store = _backlog(gate.url, 60)
    sender = Dispatcher(store, Clock(), WebhookConfig(), workers=2)
    assert _connections(gate, sender, store) <= 2
    sender.shutdown()


def test_a_new_session_each_delivery_opens_a_connection_each(
    gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _backlog(gate.url, 60)
    sender = Dispatcher(store, Clock(), WebhookConfig(), workers=2)
    sessions: list[requests.Session] = []

    def fresh() -> requests.Session:
        sessions.append(requests.Session())
        return sessions[-1]

    monkeypatch.setattr(sender, "_session", fresh)
    assert _connections(gate, sender, store) == 60
    sender.shutdown()
    for session in sessions:
        session.close()


def _recorded_while_the_store_is_busy(gate: Gate, sender: Dispatcher, store: Store) -> list[int]:
    """16 deliveries sent while another writer holds the store's write lock: the sizes of the
    batches their attempts were recorded in."""
    sizes: list[int] = []
    record = sender._record

    def counted(batch: list[Attempt], lease: int = 0) -> list[Any]:
        sizes.append(len(batch))
        return record(batch, lease)

    sender._record = counted  # type: ignore[method-assign]
    assert sender.run_due() == 16
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.tx():
            held.set()
            release.wait(20)

    threading.Thread(target=writer, daemon=True).start()
    assert held.wait(10)
    gate.open.set()
    deadline = time.monotonic() + 5  # (recorded one by one, every thread waits for the lock)
    while len(gate.peers) < 16 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # every thread that could has made its attempt
    release.set()
    _drain(sender, store)
    sender.shutdown()
    return sizes


def test_attempts_made_while_the_store_is_busy_are_recorded_together(gate: Gate) -> None:
    store = _backlog(gate.url, 16)
    sender = Dispatcher(store, Clock(), WebhookConfig(), workers=2)
    sizes = _recorded_while_the_store_is_busy(gate, sender, store)
    assert sum(sizes) == 16 and len(sizes) <= 2  # the first thread's, then all the others'


def test_recorded_one_by_one_each_waits_for_the_store(
    gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _backlog(gate.url, 16)
    sender = Dispatcher(store, Clock(), WebhookConfig(), workers=2)

    def one_by_one() -> None:
        with sender._lock:
            batch, sender._made = sender._made, []
        for made in batch:
            sender._record([made])
        with sender._lock:
            sender._leased -= len(batch)

    monkeypatch.setattr(sender, "_flush", one_by_one)
    assert _recorded_while_the_store_is_busy(gate, sender, store) == [1] * 16
