"""The proxy as an HTTP intermediary, against an upstream that says what it received: bodies of
any size stream both ways within a memory bound, contradictory framing is refused on either side,
hop-by-hop headers stop at the proxy, and neither the client's control token and cookies nor the
upstream's cookies cross it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from tests.test_proxy import ProxyProcess

pytestmark = pytest.mark.server
BASE = "/api/v1/public"
MIB = 1024 * 1024
BIG = 200 * MIB
MEMORY_BOUND = 50 * MIB


class Upstream(BaseHTTPRequestHandler):
    """``POST .../sink`` reads the body (by its length or chunked) and answers its size, digest
    and the headers it came with; ``GET .../big?n=`` answers n bytes; ``.../both`` answers with
    contradictory framing; ``.../hop`` with hop-by-hop headers and a cookie."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        digest, size = hashlib.sha256(), 0
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            while (n := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                left = n
                while left:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    digest.update(chunk)
                    size, left = size + len(chunk), left - len(chunk)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                digest.update(chunk)
                size, left = size + len(chunk), left - len(chunk)
        self._json({"bytes": size, "sha256": digest.hexdigest(), "headers": dict(self.headers)})

    def do_GET(self) -> None:
        if self.path.startswith(BASE + "/big"):
            n = int(self.path.split("n=")[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * (1 << 16)
            while n:
                self.wfile.write(block[: min(n, len(block))])
                n -= min(n, len(block))
        elif self.path.startswith(BASE + "/both"):
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n0\r\n\r\n")
        elif self.path.startswith(BASE + "/two-lengths"):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"hello")
        else:  # .../hop
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Connection", "X-Upstream-Private, keep-alive")
            self.send_header("X-Upstream-Private", "1")
            self.send_header("Keep-Alive", "timeout=5")
            self.send_header("Proxy-Authenticate", "Basic")
            self.send_header("Trailer", "X-Checksum")
            self.send_header("Upgrade", "h2c")
            self.send_header("Set-Cookie", "upstream_session=1; Path=/")
            self.send_header("X-End-To-End", "kept")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _json(self, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection the proxy closes on refusing an answer is expected here


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = _Quiet(("127.0.0.1", 0), Upstream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def proxy(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    folder: Path = tmp_path_factory.mktemp("proxy-stream")
    with ProxyProcess("freefin", upstream, folder) as running:
        yield running


class Peak:
    """The most a process and its children (a server's workers) grew in resident memory over
    their size at the start, sampled."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self._rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _blocks(total: int, digest: Any) -> Iterator[bytes]:
    block = bytes(range(256)) * 256  # 64 KiB
    sent = 0
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        digest.update(piece)
        sent += len(piece)
        yield piece


class _Body:
    """A body of known length, read in blocks (requests sends it with Content-Length)."""

    def __init__(self, total: int, digest: Any) -> None:
        self.total, self.blocks = total, _blocks(total, digest)

    def __len__(self) -> int:
        return self.total

    def read(self, size: int = -1) -> bytes:
        return next(self.blocks, b"")


@pytest.mark.slow
@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_200_mib_upload_streams_through_within_the_memory_bound(
    proxy: ProxyProcess, framing: str
) -> None:
    digest = hashlib.sha256()
    body: Any = _blocks(BIG, digest) if framing == "chunked" else _Body(BIG, digest)
    with Peak(proxy.proc.pid) as peak:
        resp = requests.post(f"{proxy.url}{BASE}/sink", data=body, timeout=120)
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["bytes"] == BIG and got["sha256"] == digest.hexdigest()
    assert peak.growth < MEMORY_BOUND, f"the proxy grew by {peak.growth / MIB:.0f} MiB"


@pytest.mark.slow
def test_a_200_mib_answer_streams_back_within_the_memory_bound(proxy: ProxyProcess) -> None:
    with (
        Peak(proxy.proc.pid) as peak,
        requests.get(f"{proxy.url}{BASE}/big?n={BIG}", stream=True, timeout=120) as resp,
    ):
        assert resp.headers["Content-Length"] == str(BIG)
        size = sum(len(chunk) for chunk in resp.iter_content(1 << 16))
    assert size == BIG
    assert peak.growth < MEMORY_BOUND, f"the proxy grew by {peak.growth / MIB:.0f} MiB"


def test_a_small_body_arrives_whole_with_its_length(proxy: ProxyProcess) -> None:
    resp = requests.post(f"{proxy.url}{BASE}/sink", data=b"x" * 1000, timeout=10)
    assert resp.json()["bytes"] == 1000
    assert resp.json()["headers"]["Content-Length"] == "1000"
    chunked = requests.post(f"{proxy.url}{BASE}/sink", data=iter([b"ab", b"cd"]), timeout=10)
    assert chunked.json()["bytes"] == 4


@pytest.mark.parametrize("path", ["both", "two-lengths"])
def test_an_upstream_answer_with_contradictory_framing_is_refused(
    proxy: ProxyProcess, path: str
) -> None:
    resp = requests.get(f"{proxy.url}{BASE}/{path}", timeout=10)
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "upstream_bad_framing"


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_request_with_contradictory_framing_goes_on_by_one_framing(proxy: ProxyProcess) -> None:
    """The server reads such a request by its Transfer-Encoding alone and closes the connection
    after the answer (RFC 9112 section 6.3); the Content-Length never reaches the proxy, so the
    upstream gets the body that was sent, by its own length, and no second request can hide
    behind it."""
    answer = _raw(
        proxy.url,
        f"POST {BASE}/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
        "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
        f"GET {BASE}/hop HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    got = json.loads(body)
    assert got["bytes"] == 4
    assert got["headers"]["Content-Length"] == "4"  # the body's own length, not the one given
    assert "Transfer-Encoding" not in got["headers"]
    assert b"X-End-To-End" not in answer  # the smuggled request was never answered


def test_the_app_refuses_a_request_whose_server_passed_both_framings() -> None:
    """Where a server hands the app both headers, the proxy refuses before any upstream."""
    from simulator.proxy import create_proxy

    client = create_proxy({"API": "freefin", "UPSTREAM": "http://127.0.0.1:9"}).test_client()
    refused = client.post(
        f"{BASE}/payments",
        data=b"abcd",
        environ_overrides={"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "4"},
    )
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert "contradictory framing" in refused.get_json()["error"]["message"]
    twice = client.post(
        f"{BASE}/payments", data=b"abcd", environ_overrides={"CONTENT_LENGTH": "4, 5"}
    )
    assert twice.status_code == 400


def test_hop_by_hop_headers_and_private_ones_stop_at_the_proxy(proxy: ProxyProcess) -> None:
    sent = requests.post(
        f"{proxy.url}{BASE}/sink",
        data=b"{}",
        headers={
            "Connection": "X-Client-Private",
            "X-Client-Private": "secret",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "websocket",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "X-Control-Token": "the-proxys-token",
            "Cookie": "dashboard=the-token",
            "X-End-To-End": "kept",
        },
        timeout=10,
    )
    seen = {name.lower() for name in sent.json()["headers"]}
    assert "x-end-to-end" in seen
    leaked = seen & {
        "x-client-private",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "x-control-token",
        "cookie",
    }
    assert not leaked
    back = requests.get(f"{proxy.url}{BASE}/hop", timeout=10)
    assert back.headers["X-End-To-End"] == "kept"
    names = {name.lower() for name in back.headers}
    assert not names & {
        "x-upstream-private",
        "keep-alive",
        "proxy-authenticate",
        "trailer",
        "upgrade",
        "set-cookie",
    }
    assert back.json() == {"ok": True}


def test_the_bound_is_measured(proxy: ProxyProcess) -> None:
    """The memory probe sees a process grow: a buffer held by this process is counted."""
    import os

    with Peak(os.getpid()) as peak:
        held = bytearray(80 * MIB)
        held[::4096] = b"x" * len(held[::4096])
        time.sleep(0.2)
    assert peak.growth > MEMORY_BOUND
    del held
