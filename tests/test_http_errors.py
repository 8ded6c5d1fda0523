"""Requests the HTTP server cannot parse still get the API's error envelope, never an HTML page.

gunicorn answers these itself, before the application runs: a malformed Content-Length, an
invalid header name, a request line it cannot read. A real server and raw sockets, since no
HTTP client library sends such requests.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from harness.simproc import SimulatorProcess

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
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/api/v1/public/payments", "freefin"),
        ("/api/v1/invoices", "kaspi"),
        ("/_sim/health", "sim"),
    ],
)
def test_unparsable_header_gets_the_envelope(
    sim: SimulatorProcess, path: str, envelope: str
) -> None:
    status, headers, body = raw(
        sim, b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: j72V\r\n\r\n"
    )
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    if envelope == "kaspi":
        assert {"error", "message", "details", "timestamp"} <= set(doc)
        assert doc["error"] == "bad_request"
    else:
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}
        assert doc["error"]["code"] == "bad_request"


def test_a_request_gunicorn_could_not_finish_gets_its_paths_envelope(sim: SimulatorProcess) -> None:
    # gunicorn gives no request object: the path comes from the request line it read
    status, headers, body = raw(
        sim, b"POST /api/v1/invoices HTTP/1.1\r\nHost: x\r\nBad Name!: x\r\n\r\n"
    )
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert _kaspi_envelope(doc) and doc["error"] == "bad_request", doc


def test_a_request_without_a_path_gets_json(sim: SimulatorProcess) -> None:
    # no request line to read a path from: the control API's envelope answers
    status, headers, body = raw(sim, b"GARBAGE\r\n\r\n")
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_the_server_still_answers_after_them(sim: SimulatorProcess) -> None:
    status, _, body = raw(sim, b"GET /_sim/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["status"] == "ok"


def _kaspi_envelope(doc: dict[str, object]) -> bool:
    return {"error", "message", "details", "timestamp"} <= set(doc) and isinstance(
        doc["error"], str
    )


@pytest.mark.parametrize(
    ("status", "request_bytes"),
    [
        (414, b"GET /api/v1/invoices?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        (
            431,
            b"GET /api/v1/invoices HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 100) for i in range(120))
            + b"\r\n",
        ),
    ],
    ids=["414", "431"],
)
def test_the_servers_own_refusals_on_kaspi_paths_get_the_kaspi_envelope(
    sim: SimulatorProcess, status: int, request_bytes: bytes
) -> None:
    got, headers, body = raw(sim, request_bytes)
    assert got in (status, 400), got  # gunicorn names an oversized head 400 or 431
    assert headers["Content-Type"].startswith("application/json")
    assert _kaspi_envelope(json.loads(body)), body[:300]


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
