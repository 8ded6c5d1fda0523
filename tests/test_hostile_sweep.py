"""Every route of both APIs, the control API, the dashboard and /pay, swept with a fixed set of
hostile values (NUL, invalid UTF-8, control characters) in the path, the query, the headers and
the body, on a real server over each engine, grading clients: a 4xx in the API's own envelope,
never a 5xx. PostgreSQL's text takes no NUL, where SQLite's does: what one engine answers, the
other must answer too."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from harness.simproc import SimulatorProcess
from simulator.app import create_app
from tests.conftest import ENGINES, FF, KEY_A1, database

# One process: the read-back test reads what the sweep logged on the same simulators.
pytestmark = [pytest.mark.server, pytest.mark.xdist_group("hostile_sweep")]
KP_KEY = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"

IN_URL = [b"%00", b"a%00b", b"%FF%FE", b"%C0%80", b"%01%1F%7F", b"%0D%0A", b"\xff\xfe"]
IN_JSON = ["\u0000", "a\u0000b", "\u0001\u001f\u007f", "\u202e\ufeff"]
RAW_BODIES = [b'{"amount": 1000, "description": "\xff"}', b'{"x": "a\x00b"}', b"\x00", b"\xc0\x80"]
IN_HEADERS = [b"\xff\xfe", b"a\x01b", b"\xc3\xa9", b"a\x7fb"]
QUERY = ["id", "status", "invoice_id", "action", "sku", "api", "page", "limit", "level", "kind"]
FIELDS = [
    "id", "api", "object", "status", "terminal_id", "url", "merchant_id", "path", "method",
    "kind", "description", "order_id", "sku", "name", "invoice_id", "phone_number", "reason",
    "profile", "outcome", "currency", "unit", "email", "event", "level",
]  # fmt: skip
# bodies a route takes, with one hostile value where a client or a tester types a string: so
# that the value gets past the schema to the store
SHAPED: dict[str, Any] = {
    "/_sim/transition": {"api": "freefin", "object": "payment", "id": "{}", "status": "paid"},
    "/_sim/webhooks/endpoint": {
        "api": "freefin",
        "terminal_id": "{}",
        "url": "http://127.0.0.1:9/",
    },
    "/_sim/kaspi/session": {"merchant_id": "{}", "connected": True},
    "/_sim/outcomes": {"api": "freefin", "object": "payment", "outcome": "{}"},
    "/_sim/faults": {"path": "{}", "kind": "status", "status": 418, "count": 1},
    "/_sim/defects": {"enable": ["{}"]},
    f"{FF}/payments": {"amount": 1000, "order_id": "{}", "description": "{}"},
    f"{FF}/payouts": {"amount": 1000, "phone": "{}", "bank_id": "{}"},
    "/api/v1/invoices": {"amount": 100, "description": "{}", "external_id": "{}"},
    "/api/v1/catalog": {"sku": "{}", "name": "{}", "price": 100, "unit": "{}"},
    "/api/v1/webhooks": {"url": "http://127.0.0.1:9/{}", "events": ["{}"]},
    "/api/v1/refunds": {"invoice_id": "{}", "amount": 1},
    "/api/v1/invoices/status/check": {"invoice_ids": ["{}"]},
}


def _routes() -> list[tuple[str, str]]:
    """(method, rule) of every route the simulator serves, from its own URL map."""
    app = create_app({"TICKER": False})
    try:
        rules = list(app.url_map.iter_rules())
    finally:
        app.extensions["paysim.runtime"].stop()
    return sorted(
        (method, rule.rule)
        for rule in rules
        if not rule.rule.startswith("/static")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    )


ROUTES = _routes()
VAR = re.compile(r"<(?:[a-z]+:)?[a-z_]+>")


def _fill(body: Any, value: str) -> Any:
    if isinstance(body, dict):
        return {k: _fill(v, value) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, value) for v in body]
    return body.replace("{}", value) if isinstance(body, str) else body


def _credentials(rule: str) -> dict[str, bytes]:
    if rule.startswith(FF) or rule.startswith("/pay"):
        return {"Authorization": f"Bearer {KEY_A1}".encode()}
    if rule.startswith("/api"):
        return {"X-API-Key": KP_KEY.encode()}
    return {}


def _cases(method: str, rule: str) -> Iterator[tuple[str, bytes, dict[str, bytes], bytes]]:
    """(what, target, headers, body) of each hostile request to one route."""
    plain = VAR.sub("x1", rule).encode()
    auth = _credentials(rule)
    body = b'{"amount": 1000}' if method in ("POST", "PUT") else b""
    for value in IN_URL:
        if VAR.search(rule):
            yield (
                f"path {value!r}",
                VAR.sub(value.decode("latin-1"), rule).encode("latin-1"),
                auth,
                body,
            )
        query = b"&".join(name.encode() + b"=" + value for name in QUERY)
        yield f"query {value!r}", plain + b"?" + query, auth, body
    for value in IN_HEADERS:
        for name in [*auth, "Idempotency-Key", "X-Control-Token", "Content-Type"]:
            yield f"header {name} {value!r}", plain, {**auth, name: value}, body
    if method not in ("POST", "PUT", "DELETE"):
        return
    for text in IN_JSON:
        everything = {"amount": 1000, **{name: text for name in FIELDS}}
        yield f"fields {text!r}", plain, auth, json.dumps(everything).encode()
        if rule in SHAPED:
            shaped = json.dumps(_fill(SHAPED[rule], text)).encode()
            yield f"shaped {text!r}", plain, auth, shaped
    for raw in RAW_BODIES:
        yield f"raw body {raw!r}", plain, auth, raw


def _send(
    port: int, method: str, target: bytes, headers: dict[str, bytes], body: bytes
) -> tuple[int, str, bytes]:
    """One request of exactly these bytes: (status, content type, body)."""
    head = [
        method.encode() + b" " + target + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Connection: close",
    ]
    sent = {name.lower() for name in headers}
    if body and "content-type" not in sent:
        head.append(b"Content-Type: application/json")
    head += [name.encode() + b": " + value for name, value in headers.items()]
    head.append(b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        top, _, rest = data.partition(b"\r\n\r\n")
        lines = top.split(b"\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        ctype = next(
            (
                ln.split(b":", 1)[1].strip().decode("latin-1")
                for ln in lines[1:]
                if ln.lower().startswith(b"content-type:")
            ),
            "",
        )
        if "event-stream" not in ctype:  # a stream is left open: its head is the answer
            while chunk := sock.recv(65536):
                rest += chunk
    return status, ctype, rest


def _refused_by_the_server(what: str, status: int, ctype: str, body: bytes) -> bool:
    """A request the HTTP server refuses before the app sees it: a control character in a
    header value, or bytes that are not UTF-8 in the request target. Its answer is a bare 400
    (no body, no type); the app never answers an error without its envelope."""
    return status == 400 and not body and not ctype and what.startswith(("header", "query", "path"))


def _enveloped(rule: str, ctype: str, body: bytes) -> bool:
    """Whether an error answer is in the envelope of the API its path belongs to."""
    if rule.startswith("/pay") or rule.startswith("/_sim/ui"):
        return True  # pages: an HTML page of their own
    if "json" not in ctype:
        return False
    doc = json.loads(body)
    if rule.startswith(FF) or not rule.startswith("/api"):
        return set(doc) == {"error"} and {"code", "message"} <= set(doc["error"])
    return {"error", "message"} <= set(doc)


@pytest.fixture(scope="module", params=ENGINES)
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatorProcess]:
    args = ["--threads", "16", "--grade-clients"]
    with SimulatorProcess(db_path=database(request, request.param), extra_args=args) as proc:
        yield proc


@pytest.mark.parametrize("method,rule", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_no_hostile_byte_reaches_a_5xx(sim: SimulatorProcess, method: str, rule: str) -> None:
    wrong = []
    for what, target, headers, body in _cases(method, rule):
        status, ctype, answer = _send(sim.port, method, target, headers, body)
        if status >= 500 or status == 0:
            wrong.append(f"{what}: {status} {answer[:200]!r}")
        elif _refused_by_the_server(what, status, ctype, answer):
            continue  # before any app runs: a bare 400, as simulator/server.py documents
        elif status >= 400 and not _enveloped(rule, ctype, answer):
            wrong.append(f"{what}: {status} not in the envelope: {answer[:200]!r}")
    assert not wrong, "\n".join(wrong)


def test_what_the_sweep_logged_is_read_back(sim: SimulatorProcess) -> None:
    """The client log took every hostile request with a known key, and the report and the
    dashboard read it back (a NUL is logged as ``\\x00`` on either engine)."""
    body = json.dumps({"amount": 1000, "description": "a\u0000b"}).encode()
    status, _, _ = _send(sim.port, "POST", f"{FF}/payments".encode(), _credentials(FF), body)
    assert status < 500
    unknown = {"Authorization": b"Bearer sk_test_000000_unknown"}
    assert _send(sim.port, "GET", f"{FF}/payments/x".encode(), unknown, b"")[0] == 401
    report = json.loads(_send(sim.port, "GET", b"/_sim/clients/report", {}, b"")[2])
    (client,) = [c for c in report["clients"] if c["api"] == "freefin"]
    assert client["requests"] > 100 and report["refused"]["freefin"] > 0
    status, _, page = _send(sim.port, "GET", b"/_sim/ui/clients", {}, b"")
    assert status == 200 and b"refused" in page


def test_hostile_tokens_and_paths_meet_the_control_guard() -> None:
    """With a control token, the guard of /_sim and of the dashboard answers any bytes in the
    token, its cookie and the path with a 401 or a redirect, never a 5xx."""
    with SimulatorProcess(extra_args=["--control-token", "s3cret"]) as sim:
        wrong = []
        for value in [*IN_HEADERS, "é".encode(), b"s3cret\xff"]:
            for target in [b"/_sim/health", b"/_sim/ui/", b"/_sim/ui/%0D%0A%00"]:
                for headers in [{"X-Control-Token": value}, {"Cookie": b"paysim_control=" + value}]:
                    status, _, answer = _send(sim.port, "GET", target, headers, b"")
                    if status >= 500 or status == 0:
                        wrong.append(f"{target!r} {headers!r}: {status} {answer[:200]!r}")
        for target in [b"/_sim/ui/freefin/%0D%0A?token=%0D%0A", b"/_sim/ui/x/%00?token=s3cret"]:
            status, _, answer = _send(sim.port, "GET", target, {}, b"")
            if status not in (302, 401):
                wrong.append(f"{target!r}: {status} {answer[:200]!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_control_inputs_the_proxy_refuses_are_4xx(token: str | None) -> None:
    """A pattern RE2 refuses and a token of any bytes are the proxy's 4xx, never its 500."""
    from simulator.proxy import create_proxy

    config = {"API": "freefin", "UPSTREAM": "http://127.0.0.1:9", "CONTROL_TOKEN": token}
    client = create_proxy(config).test_client()
    auth = {"X-Control-Token": token} if token else {}
    for path in ["(", r"(?=x)", r"(a)\1"]:
        body = {"path": path, "kind": "status", "status": 503}
        answer = client.post("/_sim/faults", json=body, headers=auth)
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert set(answer.json) == {"error"}
    for given in ["é", "s3cret\u00ff", "\u0001"]:
        answer = client.get("/_sim/faults", headers={"X-Control-Token": given})
        assert answer.status_code == (401 if token else 200), answer.get_data(as_text=True)


def test_the_contract_suite_generates_nul_where_strings_are_allowed() -> None:
    from harness.contract.loader import PROFILES, schemathesis_config

    for profile in PROFILES:
        config = schemathesis_config(
            base_url="http://127.0.0.1:9",
            scheme="ApiKeyAuth",
            credentials={"api_key": "k"},
            profile=profile,
        )
        assert config.projects.default.generation.allow_x00
