"""A quarter of the serving threads may wait on request bodies (simulator/server.py): a read
that finds no place free in time is refused in the API's envelope and closes its connection,
on both APIs."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from simulator import server
from simulator.app import create_app
from simulator.server import BodyPlaces, edge
from tests.conftest import KEY_A1

KASPI_KEY = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"
REQUESTS = {
    "freefin": (
        "/api/v1/public/payments",
        {"amount": 700},
        {"HTTP_AUTHORIZATION": f"Bearer {KEY_A1}"},
    ),
    "kaspi": (
        "/api/v1/invoices",
        {"amount": 10000, "phone_number": "77011234567", "external_order_id": "o1"},
        {"HTTP_X_API_KEY": KASPI_KEY},
    ),
}


class _Leaky(BodyPlaces):
    """A broken cap: every read finds a place."""

    def take(self) -> int | None:
        return 0

    def give(self, token: int) -> None:
        pass


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setattr(server, "BODY_WAIT_S", 0.05)
    app = create_app({"TICKER": False})
    yield app
    app.extensions["paysim.runtime"].stop()


def _send(wsgi: Any, method: str, path: str, raw: bytes, **headers: str) -> tuple[str, Any, bytes]:
    """One request through ``wsgi``: its status line, headers and body."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.input_terminated": True,
        **headers,
    }
    started: list[Any] = []
    out = b"".join(wsgi(environ, lambda status, hdrs, exc=None: started.extend([status, hdrs])))
    return started[0], started[1], out


def _post(wsgi: Any, api: str) -> tuple[int, dict[str, str], Any]:
    path, body, headers = REQUESTS[api]
    status, sent, out = _send(wsgi, "POST", path, json.dumps(body).encode(), **headers)
    return int(status[:3]), dict(sent), json.loads(out)


def _refuses_past_its_places(app: Flask, places: BodyPlaces, api: str) -> None:
    wsgi = edge(app, places)
    token = places.take()  # a stalled body holds the only place
    assert token is not None
    try:
        status, headers, body = _post(wsgi, api)
        assert status == 503, body
        assert headers["Retry-After"] == "1"
        assert headers["Connection"] == "close"
        code = body["error"]["code"] if api == "freefin" else body["error"]
        assert code == "temporarily_unavailable"
    finally:
        places.give(token)
    status, headers, _ = _post(wsgi, api)  # the place back: served, the connection kept
    assert status == 201
    assert "Connection" not in headers


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_a_body_past_the_places_is_refused_in_the_envelope(app: Flask, api: str) -> None:
    _refuses_past_its_places(app, BodyPlaces(1), api)


def test_the_check_fails_a_cap_that_leaks(app: Flask) -> None:
    with pytest.raises(AssertionError):
        _refuses_past_its_places(app, _Leaky(1), "freefin")


def test_a_graded_request_whose_body_found_no_place_keeps_its_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With client grading on, a request answered without its body read (a 405 here) is logged
    after its answer: a body that finds no place then is logged as unread, and the answer
    stands (it once became a 500)."""
    monkeypatch.setattr(server, "BODY_WAIT_S", 0.05)
    graded = create_app({"TICKER": False, "GRADE_CLIENTS": True})
    places = BodyPlaces(1)
    token = places.take()
    assert token is not None
    try:
        status, _, _ = _send(
            edge(graded, places),
            "PUT",
            "/api/v1/public/payments",
            b'{"amount": 700}',
            HTTP_AUTHORIZATION=f"Bearer {KEY_A1}",
        )
        rt = graded.extensions["paysim.runtime"]
        with rt.store.tx() as tx:
            logged = tx.execute("SELECT status, body FROM client_requests").fetchall()
    finally:
        places.give(token)
        graded.extensions["paysim.runtime"].stop()
    assert status.startswith("405"), status
    assert [tuple(row) for row in logged] == [(405, "")]
