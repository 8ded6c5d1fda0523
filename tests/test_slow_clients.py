"""Slow and greedy clients delay nobody else: a thousand connections that send half a request
head, heads that never end (closed after --head-timeout), bodies that stall (a quarter of the
threads at most, shut after --body-timeout), and event streams past their cap (503 with
Retry-After, in the envelope)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.simproc import SimulatorProcess
from tests.conftest import KEY_A1, KEY_B
from tests.test_proxy import ProxyProcess

pytestmark = pytest.mark.server
FF = "/api/v1/public"
H = {"Authorization": f"Bearer {KEY_A1}"}
HALF_HEAD = b"POST /api/v1/public/payments HTTP/1.1\r\nHost: x\r\nContent-"


@contextlib.contextmanager
def _sockets(port: int, n: int, first: bytes) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(first)
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    extra = ["--threads", "8", "--head-timeout", "2", "--sse-heartbeat", "30"]
    with SimulatorProcess(extra_args=[*extra, "--streams-per-merchant", "3"]) as proc:
        yield proc


def _served(sim: SimulatorProcess) -> None:
    """The API, the control API and the dashboard each answer."""
    assert requests.get(f"{sim.url}/_sim/health", timeout=5).ok
    made = requests.post(f"{sim.url}{FF}/payments", json={"amount": 700}, headers=H, timeout=5)
    assert made.status_code == 201, made.text
    assert requests.get(f"{sim.url}/_sim/ui/", timeout=5).ok


def test_a_thousand_half_open_connections_delay_nobody(sim: SimulatorProcess) -> None:
    with _sockets(sim.port, 1000, HALF_HEAD):
        _served(sim)


def test_a_head_that_never_ends_is_closed_after_the_timeout(sim: SimulatorProcess) -> None:
    with _sockets(sim.port, 1, HALF_HEAD) as (sock,):
        sock.settimeout(6)  # a server that waited 10 s (the default) would time out here
        got = b""
        while chunk := sock.recv(4096):
            got += chunk
        assert got == b"" or got.startswith(b"HTTP/1.1 408"), got[:200]


def test_stalled_bodies_hold_at_most_a_quarter_of_the_threads(sim: SimulatorProcess) -> None:
    """granian has no body timeout (simulator/server.py): a body that stalls holds its thread
    until its client leaves; a quarter of the threads (2 of 8) may wait on bodies, a body past
    them is refused at once (503 with Retry-After, in the envelope, the connection closed), the
    other threads serve on, and the places come back as soon as the clients leave."""
    head = (
        f"POST {FF}/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A1}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    ).encode()
    with _sockets(sim.port, 2, head):
        time.sleep(0.5)  # both reads have begun
        refused = requests.post(
            f"{sim.url}{FF}/payments", json={"amount": 700}, headers=H, timeout=5
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "temporarily_unavailable"
        assert refused.headers["Retry-After"].isdigit()
        assert refused.headers["Connection"].lower() == "close"
        assert requests.get(f"{sim.url}/_sim/health", timeout=5).ok
        assert requests.get(f"{sim.url}{FF}/banks/sbp", headers=H, timeout=5).ok
        assert requests.get(f"{sim.url}/_sim/ui/", timeout=5).ok
    time.sleep(0.2)  # the clients' closes reach the server
    _served(sim)


def _stream(sim: SimulatorProcess, key: str = KEY_A1) -> requests.Response:
    return requests.get(
        f"{sim.url}{FF}/events",
        headers={"Authorization": f"Bearer {key}"},
        stream=True,
        timeout=10,
    )


def test_streams_over_the_merchants_cap_are_503_with_retry_after(sim: SimulatorProcess) -> None:
    opened = [_stream(sim) for _ in range(3)]
    try:
        assert all(r.status_code == 200 for r in opened)
        refused = _stream(sim)  # the open ones are probed: each still read, none gives way
        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit()
        assert refused.json()["error"]["code"] == "too_many_streams"
        other = _stream(sim, KEY_B)  # another merchant has its own
        assert other.status_code == 200
        other.close()
        _served(sim)  # streams never take every thread
    finally:
        for r in opened:
            r.close()
    time.sleep(0.1)  # the clients' closes reach the server
    again = _stream(sim)  # at once: not at the streams' next heartbeat, 30 s away
    assert again.status_code == 200, again.text
    again.close()


def _keep_alive_get(sock: socket.socket) -> bytes:
    sock.sendall(
        f"GET {FF}/banks/sbp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A1}\r\n\r\n".encode()
    )
    got = b""
    while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _shut(sock: socket.socket) -> bool:
    """Whether the server has shut the connection (nothing is ever sent on it)."""
    sock.settimeout(0.5)
    try:
        return sock.recv(4096) == b""
    except TimeoutError:
        return False


@pytest.mark.parametrize("timeout", ["3", "0"])
def test_a_stalled_body_is_shut_after_the_body_timeout(timeout: str) -> None:
    """A body that sends nothing for --body-timeout has its connection shut
    (``simulator.stalls``: the kernel's TCP_INFO says which of the accepted connections has
    received nothing for that long and sent nothing since), and its place comes back; a
    connection at rest between requests and an event stream are left alone. With 0, no
    limit: the stalled bodies hold their places (the check's teeth)."""
    head = (
        f"POST {FF}/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A1}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    ).encode()
    extra = ["--threads", "8", "--body-timeout", timeout, "--sse-heartbeat", "60"]
    with SimulatorProcess(extra_args=extra) as sim:
        at_rest = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
        assert _keep_alive_get(at_rest).startswith(b"HTTP/1.1 200")
        stream = _stream(sim)
        assert stream.status_code == 200
        lines = stream.iter_lines()
        with _sockets(sim.port, 2, head) as stalled:
            time.sleep(0.5)  # both reads have begun: they hold the two places
            refused = requests.post(
                f"{sim.url}{FF}/payments", json={"amount": 700}, headers=H, timeout=5
            )
            assert refused.status_code == 503, refused.text
            time.sleep(5)  # past the timeout and the watchdog's look (every timeout / 4)
            for sock in stalled:
                assert _shut(sock) == (timeout != "0")
            made = requests.post(
                f"{sim.url}{FF}/payments", json={"amount": 700}, headers=H, timeout=5
            )
            assert made.status_code == (201 if timeout != "0" else 503), made.text
        assert _keep_alive_get(at_rest).startswith(b"HTTP/1.1 200")  # the same connection
        at_rest.close()
        if timeout != "0":  # the stream still carries the create's event
            for line in lines:
                if line.startswith(b"event:"):
                    break
            else:
                raise AssertionError("the stream was cut")
        stream.close()


@pytest.mark.parametrize("timeout", ["3", "0"])
def test_a_stalled_body_through_the_proxy_is_shut_after_the_body_timeout(
    timeout: str, tmp_path: Path
) -> None:
    """paysim proxy keeps the same time limit on bodies (its server's options are the
    simulator's): a body that stops is shut, and the proxy serves on; with 0, it stays."""
    head = (
        f"POST {FF}/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A1}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    ).encode()
    with (
        SimulatorProcess() as sim,
        ProxyProcess("freefin", sim.url, tmp_path, "--body-timeout", timeout) as proxy,
        _sockets(proxy.port, 1, head) as (stalled,),
    ):
        time.sleep(5)  # past the timeout and the watchdog's look
        assert _shut(stalled) == (timeout != "0")
        made = requests.post(f"{proxy.url}{FF}/payments", json={"amount": 700}, headers=H)
        assert made.status_code == 201, made.text
