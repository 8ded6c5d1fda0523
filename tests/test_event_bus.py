"""The event bus wakes only the streams an event concerns, in this process and, through one
poller per process, in the others of a shared store; a quiet stream asks the server every
LIVENESS_S whether its client is still there. Each check is also run against a bus or stream
broken in the way it guards against, and must then fail."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from simulator.core import events
from simulator.core.engines import open_store
from simulator.core.events import EventBus, Owner
from simulator.core.runtime import Runtime
from simulator.core.store import Store
from simulator.freefin import routes
from tests.conftest import FF, KEY_A1, KEY_B

A: Owner = ("freefin", "m_a")
B: Owner = ("freefin", "m_b")


class Broadcast(EventBus):
    """Broken: every event wakes every stream (one condition for all, as a global bus)."""

    def notify(self, owner: Owner) -> None:
        self.notify_all()


def _record(store: Store, bus: EventBus, owner: Owner, n: int) -> None:
    with store.tx() as tx:
        events.record(
            tx, bus, event_id=f"e{n}", api=owner[0], owner=owner[1], kind="k", body={}, now=0.0
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "events.db"))
    yield opened
    opened.close()


def _only_a_woken(bus: EventBus, write: Callable[[int], None]) -> None:
    """Streams of A and B wait (joined); A's event wakes A's and leaves B's asleep."""
    seen_a, seen_b = bus.version(A), bus.version(B)
    write(1)
    assert bus.wait(A, seen_a, 2.0) != seen_a, "A's stream was not woken"
    assert bus.wait(B, seen_b, 0.5) == seen_b, "B's stream was woken by A's event"


@pytest.mark.parametrize("bus_class", [EventBus, Broadcast])
def test_an_event_wakes_only_its_owners_streams(store: Store, bus_class: type[EventBus]) -> None:
    bus = bus_class()
    bus.join(A)
    bus.join(B)
    check = lambda: _only_a_woken(bus, lambda n: _record(store, bus, A, n))  # noqa: E731
    if bus_class is EventBus:
        check()
    else:
        with pytest.raises(AssertionError, match="woken by A's event"):
            check()


def _pollers() -> int:
    return sum(t.name == "paysim-events" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("bus_class", [EventBus, Broadcast])
def test_another_process_event_wakes_only_its_owners_streams_through_one_poller(
    tmp_path: Path, bus_class: type[EventBus]
) -> None:
    """Two stores over one file, as two workers: what the first writes, the second's one
    poller finds, and wakes only its owner's streams."""
    writer, reader = open_store(str(tmp_path / "s.db")), open_store(str(tmp_path / "s.db"))
    try:
        bus = bus_class()
        bus.follow(reader)
        for owner in [A] * 50 + [B]:  # fifty streams of A and one of B: one poller
            bus.join(owner)
        assert _pollers() == 1
        time.sleep(3 * events.SHARED_POLL_S)  # it has had its first look (and woken each once)
        check = lambda: _only_a_woken(bus, lambda n: _record(writer, EventBus(), A, n))  # noqa: E731
        if bus_class is EventBus:
            check()
        else:
            with pytest.raises(AssertionError, match="woken by A's event"):
                check()
        for owner in [A] * 50 + [B]:
            bus.leave(owner)
        deadline = time.monotonic() + 2
        while _pollers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pollers() == 0  # nobody waits: nobody looks
    finally:
        writer.close()
        reader.close()


def _stream_of(app: Flask, key: str, stop: threading.Event, chunks: list[bytes]) -> None:
    resp = app.test_client().get(
        f"{FF}/events", headers={"Authorization": f"Bearer {key}"}, buffered=False
    )
    try:
        for chunk in resp.response:
            chunks.append(chunk)
            if stop.is_set():
                return
    finally:
        resp.close()


@pytest.fixture
def sse_app(app: Flask) -> Flask:
    app.config["SSE_HEARTBEAT_S"] = 60.0
    app.extensions["paysim.runtime"].sse_heartbeat_s = 60.0
    return app


@pytest.mark.parametrize("broken", [False, True])
def test_a_stream_reads_the_store_only_when_its_merchant_has_events(
    sse_app: Flask, rt: Runtime, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    """Twenty events of merchant A: B's open stream reads the store once, when it opens (a
    global wake had it read twenty times more)."""
    if broken:
        monkeypatch.setattr(rt, "bus", Broadcast())
    reads: dict[str, int] = {}
    since = events.since

    def counted(store: Store, api: str, owner: str, *args: object) -> list[dict[str, object]]:
        reads[owner] = reads.get(owner, 0) + 1
        return since(store, api, owner, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(events, "since", counted)
    stop, chunks = threading.Event(), list[bytes]()
    reader = threading.Thread(target=_stream_of, args=(sse_app, KEY_B, stop, chunks))
    reader.start()
    client = sse_app.test_client()
    try:
        deadline = time.monotonic() + 5
        while not reads and time.monotonic() < deadline:
            time.sleep(0.01)
        for n in range(20):
            made = client.post(
                f"{FF}/payments",
                json={"amount": 700, "order_id": f"o{n}"},
                headers={"Authorization": f"Bearer {KEY_A1}"},
            )
            assert made.status_code == 201
            time.sleep(2 * routes.READ_GAP_S)  # so that wakes are not taken together
        time.sleep(0.3)
    finally:
        stop.set()
        reader.join(5)
    b_reads = sum(reads.values())  # B's stream is the only one
    if broken:
        assert b_reads > 10
    else:
        assert b_reads == 1, reads


@pytest.mark.parametrize("liveness_s", [routes.LIVENESS_S, 3600.0])
def test_a_quiet_stream_asks_after_its_client_every_liveness_period(
    sse_app: Flask, monkeypatch: pytest.MonkeyPatch, liveness_s: float
) -> None:
    """Every LIVENESS_S a quiet stream hands the server an empty chunk (it writes nothing):
    then the server sees a client gone, closes the stream, and its place and thread are free;
    broken (a stream that waits for its heartbeat), no chunk comes."""
    monkeypatch.setattr(routes, "LIVENESS_S", liveness_s)
    stop, chunks = threading.Event(), list[bytes]()
    reader = threading.Thread(target=_stream_of, args=(sse_app, KEY_A1, stop, chunks))
    reader.start()
    time.sleep(2.5)
    stop.set()
    empties = chunks.count(b"")
    assert chunks[0] == b": connected\n\n"
    if liveness_s < 2.5:
        assert empties >= 2, chunks
    else:
        assert empties == 0, chunks
        rt = sse_app.extensions["paysim.runtime"]
        rt.streams.probe(rt.bus)  # a probe asks at once
    reader.join(5)
    assert not reader.is_alive()
