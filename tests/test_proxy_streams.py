"""Event streams through the proxy (simulator/proxy/streams.py), real servers on loopback: each
holds a thread of its own (``--streams``), so that with every place taken the request threads
still serve; one more is refused in the API's envelope; and a stream whose client has gone gives
its place back within about a second while the upstream writes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess
from simulator.proxy import streams
from simulator.proxy.streams import LIVENESS_S, _Chunked
from tests.conftest import FF, KEY_A1
from tests.test_proxy import ProxyProcess
from tests.test_streams import _read_until, _streams

pytestmark = pytest.mark.server
THREADS, STREAMS = 4, 8
AUTH = {"Authorization": f"Bearer {KEY_A1}"}


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SimulatorProcess, ProxyProcess]]:
    folder: Path = tmp_path_factory.mktemp("proxy-streams")
    # a quiet upstream: no heartbeat for a minute
    with (
        SimulatorProcess(
            db_path=str(folder / "sim.db"), extra_args=["--sse-heartbeat", "60"]
        ) as sim,
        ProxyProcess(
            "freefin", sim.url, folder, "--threads", str(THREADS), "--streams", str(STREAMS)
        ) as proxy,
    ):
        yield sim, proxy


def _open_count(url: str) -> int:
    return int(requests.get(f"{url}/_sim/streams", timeout=10).json()["open"])


def _until_open(url: str, n: int, within: float) -> None:
    deadline = time.monotonic() + within
    while (held := _open_count(url)) != n:
        assert time.monotonic() < deadline, f"{held} streams still open at {url}, not {n}"
        time.sleep(0.05)


@pytest.fixture
def quiet(servers: tuple[SimulatorProcess, ProxyProcess]) -> Iterator[tuple[str, ProxyProcess]]:
    """The servers, every stream of the test before closed."""
    sim, proxy = servers
    yield sim.url, proxy
    _until_open(proxy.url, 0, within=2 * LIVENESS_S + 3)


def test_with_every_stream_open_the_api_through_the_proxy_answers(
    quiet: tuple[str, ProxyProcess],
) -> None:
    """Eight streams on four request threads: requests at once beside them are answered, and
    a payment's event reaches every stream after quiet seconds (the empty chunks of a quiet
    stream end nothing)."""
    _, proxy = quiet
    with _streams(proxy.port, [KEY_A1] * STREAMS) as opened:
        assert _open_count(proxy.url) == STREAMS
        time.sleep(2 * LIVENESS_S + 0.5)

        def pay(n: int) -> requests.Response:
            return requests.post(
                f"{proxy.url}{FF}/payments", json={"amount": 700 + n}, headers=AUTH, timeout=10
            )

        with ThreadPoolExecutor(THREADS * 2) as pool:
            made = list(pool.map(pay, range(THREADS * 2)))
        assert [r.status_code for r in made] == [201] * (THREADS * 2), made[0].text
        assert requests.get(f"{proxy.url}/_sim/health", timeout=10).ok
        last = made[-1].json()["payment"]["id"].encode()
        for sock in opened:
            assert last in _read_until(sock, last)


def test_a_stream_past_the_places_is_refused_in_the_envelope(
    quiet: tuple[str, ProxyProcess],
) -> None:
    _, proxy = quiet
    with _streams(proxy.port, [KEY_A1] * STREAMS):
        refused = requests.get(f"{proxy.url}{FF}/events", headers=AUTH, timeout=10)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "too_many_streams"
        assert refused.headers["Retry-After"].isdigit()
        assert requests.get(f"{proxy.url}{FF}/banks/sbp", headers=AUTH, timeout=10).ok


def test_a_closed_streams_place_is_free_again_while_the_upstream_is_quiet(
    quiet: tuple[str, ProxyProcess],
) -> None:
    """Closed by its client, a stream through the proxy is seen gone at its next empty chunk
    (within LIVENESS_S), though the upstream sends nothing: its place is taken again, and the
    upstream's stream is closed too."""
    sim_url, proxy = quiet
    with _streams(proxy.port, [KEY_A1] * STREAMS) as opened:
        _until_open(sim_url, STREAMS, within=5)
        opened[0].close()
        _until_open(proxy.url, STREAMS - 1, within=2 * LIVENESS_S + 0.5)
        with _streams(proxy.port, [KEY_A1]):
            assert _open_count(proxy.url) == STREAMS
        _until_open(sim_url, STREAMS - 1, within=2 * LIVENESS_S + 2)


def test_a_chunked_body_is_read_in_whatever_pieces_it_arrives() -> None:
    """The reader of an upstream stream's framing, fed a byte at a time: the data of each chunk
    (none of the framing), the end after the trailer; framing it cannot read is refused."""
    framed = b"5;ext=1\r\nhello\r\n1a\r\n" + b"z" * 26 + b"\r\n0\r\nX-Sum: 1\r\n\r\n"
    body, out = _Chunked(), b""
    for i in range(len(framed)):
        out += body.feed(framed[i : i + 1])
    assert out == b"hello" + b"z" * 26 and body.done
    for bad in (b"-5\r\nhello\r\n", b"zz\r\n", b"2\r\nhello\r\n", b"1" * 5000):
        with pytest.raises(ValueError):
            _Chunked().feed(bad)


class _Sse(BaseHTTPRequestHandler):
    """An event stream framed as ``/chunked``, ``/close`` (until the connection closes) or
    ``/empty`` (Content-Length: 0): a comment, a quiet while, an event."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/empty":
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        chunked = self.path == "/chunked"
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Connection", "close")
        self.send_header(*framing)
        self.end_headers()
        for i, data in enumerate([b": connected\n\n", b"data: late\n\n"]):
            time.sleep(i * QUIET_S)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


QUIET_S = 0.5


@pytest.mark.parametrize("path", ["/chunked", "/close", "/empty"])
def test_a_quiet_upstream_is_read_in_short_waits(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream's body as it was sent, whatever its framing, and an empty chunk for each
    wait that brought nothing: the server's chance to see that the client has gone."""
    monkeypatch.setattr(streams, "LIVENESS_S", QUIET_S / 4)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sse)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        with requests.get(url, stream=True, timeout=10) as up:
            got = list(streams.quiet_body(up))
    finally:
        server.shutdown()
        server.server_close()
    if path == "/empty":
        assert got == []
        return
    assert b"".join(got) == b": connected\n\ndata: late\n\n"
    assert got[0] == b": connected\n\n" and got[-1] == b"data: late\n\n"
    assert set(got[1:-1]) == {b""}, got
