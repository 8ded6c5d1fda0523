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


@pytest.mark.parametrize(
    "request_bytes",
    [b"POST /api/v1/invoices HTTP/1.1\r\nHost: x\r\nBad Name!: x\r\n\r\n", b"GARBAGE\r\n\r\n"],
)
def test_a_request_whose_path_was_not_read_gets_json(
    sim: SimulatorProcess, request_bytes: bytes
) -> None:
    # gunicorn gives no request object for these: the control API's envelope answers
    status, headers, body = raw(sim, request_bytes)
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_the_server_still_answers_after_them(sim: SimulatorProcess) -> None:
    status, _, body = raw(sim, b"GET /_sim/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body) == {"status": "ok"}
