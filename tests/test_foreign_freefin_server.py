"""Self-checks of the independent freefin server in ``tests/foreign/freefin``.

Checks a handful of clean behaviours, then that every switchable bug changes what it says.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.foreign.client import Reply, send
from tests.foreign.freefin import BUGS, CREDENTIALS, start

ROOT = Path(__file__).resolve().parents[1]
KEY = CREDENTIALS["freefin_key"]
KEY_B = CREDENTIALS["freefin_key_b"]
SIGNED = CREDENTIALS["freefin_signed_key"]
SIGNED_SECRET = CREDENTIALS["freefin_signed_secret"]
PAYMENTS = "/api/v1/public/payments"


@contextmanager
def running(*bugs: str, heartbeat: float = 25.0) -> Iterator[str]:
    """Serve a fresh server with ``bugs``; yield its base URL."""
    server, url = start(bugs, heartbeat=heartbeat)
    try:
        yield url
    finally:
        server.shutdown()


def call(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = KEY,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Reply:
    """Send one request as ``key``; return status, lower-cased headers and the body."""
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return send(url, method, path, body, sent, raw)


def pay(url: str, amount: int = 150_000, **extra: Any) -> dict[str, Any]:
    """Create a payment; return it."""
    status, _, body = call(url, "POST", PAYMENTS, {"amount": amount, **extra})
    assert status in (200, 201), body
    payment: dict[str, Any] = body["payment"]
    return payment


def succeed(url: str, pid: str) -> None:
    """Move a payment to succeeded through the test endpoint."""
    path = f"/testing/v1/payments/{pid}/status"
    status, _, body = call(url, "POST", path, {"status": "succeeded"})
    assert status == 200, body


def refund(url: str, pid: str, amount: int) -> Reply:
    """Refund ``amount`` of a payment."""
    return call(url, "POST", f"{PAYMENTS}/{pid}/refund", {"amount": amount})


def sse_events(url: str, action: Callable[[], None], wanted: int, wait: float = 1.5) -> list[str]:
    """Open the SSE stream, run ``action``, return the ``event:`` lines seen within ``wait``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    kinds: list[str] = []
    try:
        conn.request("GET", "/api/v1/public/events", headers={"Authorization": f"Bearer {KEY}"})
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.readline() == b": connected\n"
        action()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and len(kinds) < wanted:
            line = response.readline().decode()
            if line.startswith("event: "):
                kinds.append(line[7:].strip())
    finally:
        conn.close()
    return kinds


@pytest.fixture
def url() -> Iterator[str]:
    with running() as base:
        yield base


def test_create_replay_conflict_and_read(url: str) -> None:
    body = {"amount": 150_000, "method": "sbp", "order_id": "ORDER-1"}
    first = call(url, "POST", PAYMENTS, body, headers={"Idempotency-Key": "k-1"})
    again = call(url, "POST", PAYMENTS, body, headers={"Idempotency-Key": "k-1"})
    other = call(url, "POST", PAYMENTS, {**body, "amount": 1}, headers={"Idempotency-Key": "k-1"})
    assert first[0] == 201 and first[2]["payment"]["status"] == "pending"
    assert first[2]["mode"] == "test" and first[2]["payment_url"].startswith(url)
    assert again[0] == 200 and again[2]["idempotent"] is True
    assert again[2]["payment"]["id"] == first[2]["payment"]["id"]
    assert other[0] == 409 and other[2]["error"]["code"] == "idempotent_conflict"
    pid = first[2]["payment"]["id"]
    assert call(url, "GET", f"{PAYMENTS}/{pid}")[2]["amount"] == 150_000
    assert call(url, "GET", f"{PAYMENTS}/{pid}", key=KEY_B)[0] == 404
    assert call(url, "GET", f"{PAYMENTS}/{pid}", key=None)[0] == 401
    assert call(url, "GET", f"{PAYMENTS}/{pid}", key="sk_live_abcdef_x")[2]["error"]["code"] == (
        "live_not_enabled"
    )


@pytest.mark.parametrize("amount", [0, -5, True, 1.5, "100", None, 2**63])
def test_bad_amounts_are_refused(url: str, amount: Any) -> None:
    status, _, body = call(url, "POST", PAYMENTS, {"amount": amount})
    assert status == 400 and body["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"", 400),
        (b"{", 400),
        (b"\xff\xfe", 400),
        (b"[" * 100_000, 413),
        (b"[" * 50_000, 400),
        (b'{"amount": 1e999}', 400),
        (b'{"amount": 5, "order_id": "\\u0000\\ud800"}', 201),
    ],
)
def test_odd_bodies_get_json_errors(url: str, raw: bytes, status: int) -> None:
    code, headers, body = call(url, "POST", PAYMENTS, raw=raw)
    assert code == status and ("error" in body) == (status >= 400)
    if status == 413:
        assert headers["connection"] == "close"


def test_routes_methods_and_signatures(url: str) -> None:
    assert call(url, "GET", "/nope?x=1")[2]["error"]["code"] == "not_found"
    assert call(url, "DELETE", PAYMENTS)[0] == 405
    raw = json.dumps({"amount": 100}).encode()
    good = "sha256=" + hmac.new(SIGNED_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    missing = call(url, "POST", PAYMENTS, raw=raw, key=SIGNED)
    wrong = call(url, "POST", PAYMENTS, raw=raw, key=SIGNED, headers={"X-Freefin-Signature": "x"})
    signed = call(url, "POST", PAYMENTS, raw=raw, key=SIGNED, headers={"X-Freefin-Signature": good})
    assert missing[2]["error"]["code"] == "signature_required"
    assert wrong[2]["error"]["code"] == "invalid_signature"
    assert signed[0] == 201
    banks = call(url, "GET", "/api/v1/public/banks/sbp")[2]["items"]
    assert len(banks) == 30 and all(len(bank["member_id"]) == 12 for bank in banks)


def test_refunds_and_cancel(url: str) -> None:
    pid = pay(url, 100_000)["id"]
    assert refund(url, pid, 10)[2]["error"]["code"] == "payment_not_refundable"
    succeed(url, pid)
    assert refund(url, pid, 30_000)[0] == 201
    assert refund(url, pid, 80_000)[2]["error"]["code"] == "refund_exceeds_remaining"
    assert refund(url, pid, 0)[2]["amount"] == 70_000
    payment = call(url, "GET", f"{PAYMENTS}/{pid}")[2]
    assert payment["status"] == "refunded" and payment["amount_refunded"] == 100_000
    assert call(url, "POST", f"{PAYMENTS}/{pid}/cancel")[2]["error"]["code"] == "not_pending"
    other = pay(url)["id"]
    assert call(url, "POST", f"{PAYMENTS}/{other}/cancel")[2]["status"] == "cancelled"


def test_concurrent_creates_and_refunds_stay_consistent(url: str) -> None:
    results: list[Reply] = []
    pid = pay(url, 100_000)["id"]
    succeed(url, pid)

    def create() -> None:
        results.append(call(url, "POST", PAYMENTS, {"amount": 7}, headers={"Idempotency-Key": "c"}))
        results.append(refund(url, pid, 30_000))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [r for r in results if r[0] in (200, 201) and "payment" in r[2]]
    assert len({r[2]["payment"]["id"] for r in created}) == 1
    assert sum(r[0] == 201 for r in created) == 1
    assert call(url, "GET", f"{PAYMENTS}/{pid}")[2]["amount_refunded"] == 90_000


def test_rate_limit_and_plans(url: str) -> None:
    limited = CREDENTIALS["freefin_limited_key"]
    replies = [call(url, "GET", "/api/v1/public/banks/sbp", key=limited) for _ in range(3)]
    assert replies[-1][0] == 429 and replies[-1][1]["retry-after"] == "1"
    plan = {"object": "payment", "status": "failed:insufficient_funds", "after_ms": 20}
    assert call(url, "POST", "/testing/v1/plans", plan, key=None)[0] == 200
    pid = pay(url)["id"]
    deadline = time.monotonic() + 2
    while call(url, "GET", f"{PAYMENTS}/{pid}")[2]["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert call(url, "GET", f"{PAYMENTS}/{pid}")[2]["status"] == "failed"


def test_sse_stream_and_replay() -> None:
    with running(heartbeat=0.2) as base:
        kinds = sse_events(base, lambda: cancel_new(base), 2)
        assert kinds == ["payment.status_changed", "payment.cancelled"]
        parts = urlsplit(base)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        try:
            headers = {"Authorization": f"Bearer {KEY}", "Last-Event-ID": "1"}
            conn.request("GET", "/api/v1/public/events", headers=headers)
            response = conn.getresponse()
            lines = [response.readline() for _ in range(4)]
        finally:
            conn.close()
        assert lines[2:] == [b"id: 2\n", b"event: payment.cancelled\n"]


def cancel_new(url: str) -> None:
    """Create a payment and cancel it."""
    call(url, "POST", f"{PAYMENTS}/{pay(url)['id']}/cancel")


def _odd_order(url: str) -> Any:
    return call(url, "POST", PAYMENTS, {"amount": 5, "order_id": "заказ"})[0]


def _replay(url: str) -> Any:
    replies = [call(url, "POST", PAYMENTS, {"amount": 5}, headers={"Idempotency-Key": "r"})]
    replies.append(call(url, "POST", PAYMENTS, {"amount": 5}, headers={"Idempotency-Key": "r"}))
    return [r[0] for r in replies], len({r[2]["payment"]["id"] for r in replies})


def _conflict(url: str) -> Any:
    call(url, "POST", PAYMENTS, {"amount": 5}, headers={"Idempotency-Key": "c"})
    return call(url, "POST", PAYMENTS, {"amount": 6}, headers={"Idempotency-Key": "c"})[0]


def _over_refund(url: str) -> Any:
    pid = pay(url, 100)["id"]
    succeed(url, pid)
    return refund(url, pid, 500)[0]


def _signature(url: str) -> Any:
    raw = b'{"amount": 5}'
    headers = {"X-Freefin-Signature": "sha256=" + "0" * 64}
    missing = call(url, "POST", PAYMENTS, raw=raw, key=SIGNED)[0]
    return missing, call(url, "POST", PAYMENTS, raw=raw, key=KEY, headers=headers)[0]


def _cancel_succeeded(url: str) -> Any:
    pid = pay(url)["id"]
    succeed(url, pid)
    return call(url, "POST", f"{PAYMENTS}/{pid}/cancel")[0]


def _no_auth_read(url: str) -> Any:
    pid = pay(url)["id"]
    return call(url, "GET", f"{PAYMENTS}/{pid}", key=None)[0]


def _other_merchant_read(url: str) -> Any:
    return call(url, "GET", f"{PAYMENTS}/{pay(url)['id']}", key=KEY_B)[0]


def _sse(url: str) -> Any:
    return sse_events(url, lambda: cancel_new(url), 2, wait=0.8)


def _retry_after(url: str) -> Any:
    limited = CREDENTIALS["freefin_limited_key"]
    replies = [call(url, "GET", "/api/v1/public/banks/sbp", key=limited) for _ in range(3)]
    return replies[-1][0], replies[-1][1].get("retry-after")


PROBES: dict[str, Callable[[str], Any]] = {
    "replay_duplicates": _replay,
    "conflict_ignored": _conflict,
    "over_refund": _over_refund,
    "refund_unpaid": lambda url: refund(url, pay(url)["id"], 10)[0],
    "signature_unchecked": _signature,
    "amount_as_string": lambda url: pay(url)["amount"],
    "create_200": lambda url: call(url, "POST", PAYMENTS, {"amount": 5})[0],
    "no_retry_after": _retry_after,
    "cancel_any_state": _cancel_succeeded,
    "auth_ignored_get": _no_auth_read,
    "cross_merchant_read": _other_merchant_read,
    "crash_on_odd_input": _odd_order,
    "bad_bank_ids": lambda url: call(url, "GET", "/api/v1/public/banks/sbp")[2]["items"][0],
    "key_length_unchecked": lambda url: call(
        url, "POST", PAYMENTS, {"amount": 5}, headers={"Idempotency-Key": "k" * 65}
    )[0],
    "sse_silent": _sse,
    "zero_amount_accepted": lambda url: call(url, "POST", PAYMENTS, {"amount": 0})[0],
}


def test_every_bug_has_a_probe() -> None:
    assert set(PROBES) == set(BUGS)
    with pytest.raises(ValueError, match="known bugs"):
        start(["no_such_bug"])


@pytest.mark.parametrize("bug", sorted(PROBES))
def test_bug_changes_behaviour(bug: str) -> None:
    with running(heartbeat=0.2) as clean:
        expected = PROBES[bug](clean)
    with running(bug, heartbeat=0.2) as broken:
        observed = PROBES[bug](broken)
    assert observed != expected, f"{bug}: clean and broken both gave {expected!r}"


def test_cli_prints_ready_and_stops() -> None:
    command = [sys.executable, "-m", "tests.foreign.freefin", "--port", "0", "--bug", "create_200"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:")
        assert call(line.split()[1], "POST", PAYMENTS, {"amount": 5})[0] == 200
        process.terminate()
        assert process.wait(timeout=5) == 0
    bad = subprocess.run([*command[:3], "--bug", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "replay_duplicates" in bad.stderr
