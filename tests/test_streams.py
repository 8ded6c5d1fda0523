"""Event streams on a real server: a thousand open on one worker while the API answers, each
event at its merchant's streams only, a closed stream's place free at once, the caps' 503."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from harness.simproc import SimulatorProcess
from tests.conftest import FF, KEY_A1, KEY_B

pytestmark = pytest.mark.server


def _open(port: int, key: str) -> socket.socket:
    """A stream's request sent (its answer not read yet)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(
        f"GET {FF}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    )
    return sock


def _read_until(sock: socket.socket, marker: bytes, got: bytes = b"") -> bytes:
    while marker not in got:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before {marker!r}: {got[-300:]!r}")
        got += chunk
    return got


@contextlib.contextmanager
def _streams(port: int, keys: list[str]) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for key in keys:
            opened.append(_open(port, key))
        for sock in opened:
            head = _read_until(sock, b": connected")
            assert head.startswith(b"HTTP/1.1 200"), head[:300]
        yield opened
    finally:
        for sock in opened:
            sock.close()


def _open_count(sim: SimulatorProcess) -> int:
    return int(requests.get(f"{sim.url}/_sim/streams", timeout=10).json()["open"])


def _until_open(sim: SimulatorProcess, n: int, within: float) -> float:
    """Seconds until the worker holds ``n`` streams open (fails past ``within``)."""
    started = time.monotonic()
    while (held := _open_count(sim)) != n:
        assert time.monotonic() - started < within, f"{held} streams still open, not {n}"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.slow
def test_a_thousand_streams_on_one_worker_while_the_api_answers() -> None:
    """500 streams of merchant A and 500 of B on one worker (the default places): the API
    answers at once; A's payment reaches each of A's streams and none of B's; closed, every
    stream's place is free within a couple of seconds, no stream asking for one."""
    with (
        SimulatorProcess(extra_args=["--sse-heartbeat", "60"]) as sim,
        _streams(sim.port, [KEY_A1, KEY_B] * 500) as opened,
    ):
        assert _open_count(sim) == 1000
        started = time.monotonic()
        made = requests.post(
            f"{sim.url}{FF}/payments",
            json={"amount": 700},
            headers={"Authorization": f"Bearer {KEY_A1}"},
            timeout=10,
        )
        took = time.monotonic() - started
        assert made.status_code == 201, made.text
        assert took < 5, took  # not queued behind the streams (a generous bound, not a speed)
        pid = made.json()["payment"]["id"]
        for sock in opened[::2]:
            assert pid.encode() in _read_until(sock, pid.encode())
        time.sleep(0.5)
        for sock in opened[1::2]:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(65536)  # B's streams: nothing (their heartbeat is a minute away)
        for sock in opened:
            sock.close()
        _until_open(sim, 0, within=2 * 1.0 + 3)  # routes.LIVENESS_S, and the closes landing


@pytest.fixture(scope="module")
def capped() -> Iterator[SimulatorProcess]:
    extra = ["--sse-heartbeat", "60", "--streams", "3", "--streams-per-merchant", "2"]
    with SimulatorProcess(extra_args=extra) as proc:
        yield proc


def _refused(sim: SimulatorProcess, key: str) -> requests.Response:
    resp = requests.get(
        f"{sim.url}{FF}/events", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "too_many_streams"
    assert resp.headers["Retry-After"].isdigit()
    return resp


def test_the_caps_per_merchant_and_per_worker_answer_503_in_the_envelope(
    capped: SimulatorProcess,
) -> None:
    with _streams(capped.port, [KEY_A1, KEY_A1]):
        _refused(capped, KEY_A1)  # the merchant's two are taken
        with _streams(capped.port, [KEY_B]):
            _refused(capped, KEY_B)  # the worker's three are
            assert requests.get(f"{capped.url}/_sim/health", timeout=5).ok
    _until_open(capped, 0, within=5)


def test_a_closed_streams_place_is_free_at_once(capped: SimulatorProcess) -> None:
    """Without anyone asking for it: within LIVENESS_S (a second); and at once when another
    stream asks for a place (the open ones are probed)."""
    with _streams(capped.port, [KEY_A1, KEY_B]) as (first, _):
        first.close()
        assert _until_open(capped, 1, within=2.5) < 2.5
    _until_open(capped, 0, within=2.5)
    with _streams(capped.port, [KEY_A1, KEY_A1]) as (first, _):
        first.close()
        time.sleep(0.05)  # the close reaches the server, not yet seen by its stream
        with _streams(capped.port, [KEY_A1]):  # a place at once: the probe found it
            assert _open_count(capped) == 2
