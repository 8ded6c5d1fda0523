"""The foreign (seed-only) Kaspi Pay server behaves, and each switchable bug shows."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.foreign.client import Reply, send
from tests.foreign.kaspi import BUGS, CREDENTIALS, PREFIX, start

KEY_A = CREDENTIALS["kaspi_key"]
KEY_B = CREDENTIALS["kaspi_key_b"]
PHONE = "77011234567"


class Api:
    """A tiny JSON client (one closed connection per call)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = KEY_A,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        """Send a request; path is relative to the API prefix unless it starts with /testing."""
        url = path if path.startswith("/testing") else PREFIX + path
        sent = dict(headers or {})
        if key is not None:
            sent["X-API-Key"] = key
        return send(self.base, method, url, body, sent, raw)

    def invoice(self, amount: Any = 100, key: str = KEY_A, **extra: Any) -> dict[str, Any]:
        """Create an invoice and return it."""
        status, _, body = self.call(
            "POST", "/v1/invoices", {"amount": amount, "phone_number": PHONE, **extra}, key=key
        )
        assert status in (200, 201), body
        return body

    def paid_invoice(self, amount: Any = 100) -> dict[str, Any]:
        """Create an invoice and move it to paid through the test endpoint."""
        inv = self.invoice(amount)
        status, _, body = self.call(
            "POST", f"/testing/invoices/{inv['id']}/status", {"status": "paid"}
        )
        assert status == 200 and body["status"] == "paid"
        return body


@contextmanager
def running(*bugs: str) -> Iterator[Api]:
    """A server with the given bugs for the duration of the block."""
    server, base = start(bugs)
    try:
        yield Api(base)
    finally:
        server.shutdown()


@contextmanager
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]], threading.Event]]:
    """A webhook receiver on 127.0.0.1 answering 200."""
    got: list[tuple[dict[str, str], bytes]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/hook", got, arrived
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def api() -> Iterator[Api]:
    """A clean server."""
    with running() as client:
        yield client


def test_errors_use_the_envelope(api: Api) -> None:
    status, _, body = api.call("GET", "/v1/me", key=None)
    assert status == 401 and body["error"] == "UNAUTHORIZED"
    assert set(body) == {"error", "message", "details", "timestamp"}
    assert api.call("GET", "/v1/nope")[0] == 404
    status, headers, body = api.call("DELETE", "/v1/invoices")
    assert status == 405 and "POST" in headers["allow"] and body["error"] == "METHOD_NOT_ALLOWED"
    assert api.call("POST", "/v1/invoices", raw=b'{"amount": ')[0] == 400
    assert api.call("POST", "/v1/invoices", raw=b"\xff\xfe\x00")[0] == 400
    assert api.call("POST", "/v1/invoices", raw=b"[" * 40000)[0] == 400
    status, headers, body = api.call("POST", "/v1/invoices", raw=b"x" * 70000)
    assert (
        status == 413 and headers["connection"] == "close" and body["error"] == "PAYLOAD_TOO_LARGE"
    )
    status, _, me = api.call("GET", "/v1/me")
    assert status == 200 and me["kaspi_connected"] is True


def test_invoice_validation_and_shape(api: Api) -> None:
    for amount in ("100", True, None, 0, -5, 1.005, 1e300):
        status, _, body = api.call(
            "POST", "/v1/invoices", {"amount": amount, "phone_number": PHONE}
        )
        assert status == 400 and body["details"]["field"] == "amount", amount
    status, _, body = api.call("POST", "/v1/invoices", {"amount": 5, "phone_number": "8701"})
    assert status == 400 and body["details"]["field"] == "phone_number"
    inv = api.invoice(10000, description="Заказ #1042")
    assert inv["amount"] == "10000.00" and inv["status"] == "pending" and inv["currency"] == "KZT"
    assert inv["external_order_id"] is None and len(inv["kaspi_invoice_id"]) == 10
    unconnected = CREDENTIALS["kaspi_key_unconnected"]
    body = {"amount": 5, "phone_number": PHONE}
    assert api.call("POST", "/v1/invoices", body, key=unconnected)[0] == 409
    assert api.call("GET", f"/v1/invoices/{inv['id']}", key=KEY_B)[0] == 404
    assert api.call("GET", "/v1/invoices?page_size=101")[0] == 400


def test_concurrent_idempotent_creates_make_one_invoice(api: Api) -> None:
    body = {"amount": 250, "phone_number": PHONE, "external_order_id": "idem-1"}
    headers = {"Idempotency-Key": "k-1"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: api.call("POST", "/v1/invoices", body, headers=headers), range(8))
        )
    assert {a[0] for a in answers} == {201}
    assert len({a[2]["id"] for a in answers}) == 1
    _, _, listed = api.call("GET", "/v1/invoices?search=idem-1")
    assert listed["meta"]["total"] == 1
    other = {"amount": 251, "phone_number": PHONE}
    status, _, err = api.call("POST", "/v1/invoices", other, headers=headers)
    assert status == 422 and err["error"] == "IDEMPOTENCY_MISMATCH"


def test_concurrent_refunds_never_exceed_the_amount(api: Api) -> None:
    inv = api.paid_invoice(100)
    path = f"/v1/invoices/{inv['id']}/refund"
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: api.call("POST", path, {"amount": 40})[0], range(6)))
    assert codes.count(201) == 2 and set(codes) <= {201, 400}
    status, _, rest = api.call("POST", path, {})
    assert status == 201 and rest["amount"] == "20.00"
    assert api.call("GET", f"/v1/invoices/{inv['id']}")[2]["status"] == "refunded"
    assert api.call("POST", path, {"amount": 1})[0] == 409


def test_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    limited = CREDENTIALS["kaspi_limited_key"]
    answers = [api.call("GET", "/v1/me", key=limited) for _ in range(4)]
    assert answers[-1][0] == 429 and answers[-1][1]["retry-after"] == "1"


def test_webhook_is_delivered_signed(api: Api) -> None:
    with receiver() as (url, got, arrived):
        status, _, hook = api.call("POST", "/v1/webhooks", {"url": url, "events": ["*"]})
        assert status == 201 and hook["signing_secret"].startswith("whsec_")
        inv = api.invoice(77)
        api.call("POST", f"/v1/invoices/{inv['id']}/cancel")
        assert arrived.wait(5)
    headers, body = got[0]
    expected = hmac.new(hook["signing_secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == expected
    event = json.loads(body)
    assert event["type"] == "invoice.status_changed" and headers["x-webhook-id"] == event["id"]
    assert event["data"]["object"]["status"] == "canceled"
    assert "signing_secret" not in api.call("GET", "/v1/webhooks")[2]["data"][0]


def _create_status(api: Api) -> Any:
    return api.call("POST", "/v1/invoices", {"amount": 5, "phone_number": PHONE})[0]


def _string_amount(api: Api) -> Any:
    return api.call("POST", "/v1/invoices", {"amount": "100", "phone_number": PHONE})[0]


def _cancel_paid(api: Api) -> Any:
    return api.call("POST", f"/v1/invoices/{api.paid_invoice()['id']}/cancel")[0]


def _over_refund(api: Api) -> Any:
    return api.call("POST", f"/v1/invoices/{api.paid_invoice(10)['id']}/refund", {"amount": 20})[0]


def _replay(api: Api) -> Any:
    body, headers = {"amount": 5, "phone_number": PHONE}, {"Idempotency-Key": "same"}
    ids = {api.call("POST", "/v1/invoices", body, headers=headers)[2]["id"] for _ in range(2)}
    return len(ids)


def _cross_read(api: Api) -> Any:
    return api.call("GET", f"/v1/invoices/{api.invoice()['id']}", key=KEY_B)[0]


def _no_key_read(api: Api) -> Any:
    return api.call("GET", f"/v1/invoices/{api.invoice()['id']}", key=None)[0]


def _odd_description(api: Api) -> Any:
    body = {"amount": 5, "phone_number": PHONE, "description": "Қазақша"}
    return api.call("POST", "/v1/invoices", body)[0]


def _retry_after(api: Api) -> Any:
    answers = [api.call("GET", "/v1/me", key=CREDENTIALS["kaspi_limited_key"]) for _ in range(4)]
    return answers[-1][1].get("retry-after")


def _amount_type(api: Api) -> Any:
    return type(api.invoice(5)["amount"]).__name__


def _sandbox_simulate(api: Api) -> Any:
    path = f"/v1/sandbox/invoices/{api.invoice()['id']}/simulate"
    return api.call("POST", path, {"status": "paid"})[0]


def _page_size(api: Api) -> Any:
    for _ in range(3):
        api.invoice()
    return len(api.call("GET", "/v1/invoices?page_size=2")[2]["data"])


PROBES: dict[str, tuple[Callable[[Api], Any], Any]] = {
    "create_200": (_create_status, 201),
    "string_amount_coerced": (_string_amount, 400),
    "cancel_paid": (_cancel_paid, 409),
    "over_refund": (_over_refund, 400),
    "replay_duplicates": (_replay, 1),
    "cross_merchant_read": (_cross_read, 404),
    "auth_ignored_get": (_no_key_read, 401),
    "crash_on_odd_input": (_odd_description, 201),
    "no_retry_after": (_retry_after, "1"),
    "amount_as_number": (_amount_type, "str"),
    "sandbox_any_invoice": (_sandbox_simulate, 409),
    "page_size_ignored": (_page_size, 2),
}


@pytest.mark.parametrize("bug", sorted(PROBES))
def test_each_bug_changes_its_behaviour(bug: str) -> None:
    probe, clean_value = PROBES[bug]
    assert bug in BUGS
    with running() as clean:
        assert probe(clean) == clean_value
    with running(bug) as broken:
        assert probe(broken) != clean_value


def test_unknown_bug_is_refused() -> None:
    with pytest.raises(ValueError, match="known"):
        start(["no_such_bug"])
