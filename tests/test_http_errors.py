"""Requests over the limits get the API's error envelope wherever the app gets to answer (414,
431, 413); what the HTTP server refuses before any app runs (a request it cannot parse, a head
longer than it reads) is a bare status and a closed connection, as simulator/server.py says. A
real server and raw sockets, since no HTTP client library sends such requests.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from harness.simproc import SimulatorProcess
from simulator.server import MAX_BUFFER

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as proc:
        yield proc


def raw(sim: SimulatorProcess, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _kaspi_envelope(doc: dict[str, object]) -> bool:
    return {"error", "message", "details", "timestamp"} <= set(doc) and isinstance(
        doc["error"], str
    )


@pytest.mark.parametrize(
    ("status", "path", "request_bytes"),
    [
        (
            414,
            "/api/v1/invoices",
            b"GET /api/v1/invoices?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            414,
            "/api/v1/public/payments",
            b"GET /api/v1/public/payments?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            431,
            "/api/v1/invoices",
            b"GET /api/v1/invoices HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 1000) for i in range(40))
            + b"\r\n",
        ),
        (
            431,
            "/api/v1/public/payments",
            b"GET /api/v1/public/payments HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 1000) for i in range(40))
            + b"\r\n",
        ),
    ],
    ids=["414-kaspi", "414-freefin", "431-kaspi", "431-freefin"],
)
def test_limits_the_app_gets_to_answer_come_in_the_paths_envelope(
    sim: SimulatorProcess, status: int, path: str, request_bytes: bytes
) -> None:
    got, headers, body = raw(sim, request_bytes)
    assert got == status, (got, body[:300])
    assert headers["content-type"].startswith("application/json")
    assert headers["connection"] == "close"
    doc = json.loads(body)
    if path.startswith("/api/v1/public"):
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
    else:
        assert _kaspi_envelope(doc), doc


@pytest.mark.parametrize(
    ("status", "request_bytes"),
    [
        (400, b"POST /api/v1/invoices HTTP/1.1\r\nHost: x\r\nContent-Length: j72V\r\n\r\n"),
        (400, b"POST /api/v1/invoices HTTP/1.1\r\nHost: x\r\nBad Name!: x\r\n\r\n"),
        (400, b"GARBAGE\r\n\r\n"),
        (
            414,  # a request line longer than the server reads
            b"GET /api/v1/invoices?q=" + b"x" * (MAX_BUFFER + 1) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            431,  # more header fields than the server takes
            b"GET /api/v1/invoices HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: y\r\n" % i for i in range(120))
            + b"\r\n",
        ),
        (
            431,  # a head longer than the server reads
            b"GET /api/v1/invoices HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 4000) for i in range(90))
            + b"\r\n",
        ),
    ],
    ids=["bad-length", "bad-name", "no-request-line", "long-line", "many-fields", "long-head"],
)
def test_what_the_server_refuses_before_the_app_runs_is_a_bare_status_and_a_close(
    sim: SimulatorProcess, status: int, request_bytes: bytes
) -> None:
    """The server's own answers, as simulator/server.py documents them: the status, no body,
    the connection closed (raw() reads to the close)."""
    got, headers, body = raw(sim, request_bytes)
    assert got == status
    assert headers["content-length"] == "0" and body == b""
    assert headers["connection"] == "close"


def test_the_server_still_answers_after_them(sim: SimulatorProcess) -> None:
    status, _, body = raw(sim, b"GET /_sim/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_a_413_tells_the_truth_about_the_connection(sim: SimulatorProcess) -> None:
    """After a body over the limit, the client is told the connection closes, or it stays
    usable: the next request on it is never lost."""
    session = requests.Session()
    body = b"{" + b" " * (1024 * 1024) + b"}"
    lost = []
    for _ in range(5):
        refused = session.post(
            f"{sim.url}/api/v1/public/payments",
            data=body,
            headers={"Authorization": "Bearer x", "Content-Type": "application/json"},
            timeout=10,
        )
        assert refused.status_code == 413
        try:
            session.get(f"{sim.url}/_sim/health", timeout=10)
        except requests.ConnectionError as exc:
            lost.append(f"Connection: {refused.headers.get('Connection')}: {exc}")
    session.close()
    assert not lost, lost


@pytest.mark.parametrize("path", ["/api/v1/public/payments", "/api/v1/invoices"])
def test_a_chunked_body_over_the_limit_is_413_not_a_truncated_read(
    sim: SimulatorProcess, path: str
) -> None:
    """A chunked body has no Content-Length to refuse it by; the read stops at the limit, and
    the server says 413 instead of judging the cut-off half as malformed JSON."""
    big = json.dumps({"amount": 100, "description": "x" * (1024 * 1024 + 10)}).encode()
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))  # sent chunked
    resp = requests.post(
        f"{sim.url}{path}",
        data=chunks,
        headers={
            "Authorization": "Bearer sk_test_rom001_Jq7Zt2xVw9LmN4pR",
            "X-API-Key": "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    assert resp.status_code == 413, resp.text
    assert "error" in resp.json()
