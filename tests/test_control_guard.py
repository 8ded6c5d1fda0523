"""Everything under /_sim is guarded alike: with a control token, every control route (the Kaspi
session control too) wants it; a change asked for by another site's page is refused, so a web
page open in the user's browser cannot reset or reconfigure a simulator on their machine; the
dashboard cannot be framed by another site."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from simulator.app import create_app

TOKEN = "t0ken-guard"
MERCHANT = {"merchant_id": "m_almaty_coffee", "connected": False}


@pytest.fixture()
def guarded() -> Iterator[FlaskClient]:
    app = create_app({"TICKER": False, "DB_PATH": ":memory:", "CONTROL_TOKEN": TOKEN})
    yield app.test_client()


@pytest.fixture()
def open_client() -> Iterator[FlaskClient]:
    app = create_app({"TICKER": False, "DB_PATH": ":memory:"})
    yield app.test_client()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/_sim/reset", None),
        ("POST", "/_sim/kaspi/session", MERCHANT),
        ("GET", "/_sim/kaspi/session?merchant_id=m_almaty_coffee", None),
        ("GET", "/_sim/defects", None),
        ("POST", "/_sim/clock/advance", {"seconds": 1}),
    ],
)
def test_every_control_route_wants_the_token(
    guarded: FlaskClient, method: str, path: str, body: object
) -> None:
    refused = guarded.open(path, method=method, json=body)
    assert refused.status_code == 401, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["code"] == "control_token_required"
    allowed = guarded.open(path, method=method, json=body, headers={"X-Control-Token": TOKEN})
    assert allowed.status_code == 200, allowed.get_data(as_text=True)


def test_health_stays_open(guarded: FlaskClient) -> None:
    assert guarded.get("/_sim/health").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://localhost:3000"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of the same host is another origin
    ],
)
@pytest.mark.parametrize("path", ["/_sim/reset", "/_sim/kaspi/session"])
def test_a_change_from_another_sites_page_is_refused(
    open_client: FlaskClient, headers: dict[str, str], path: str
) -> None:
    answer = open_client.post(path, json=MERCHANT, headers=headers)
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "cross_site_refused"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, the harness: no browser headers
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},  # the dashboard itself
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
    ],
)
def test_a_change_from_a_tool_or_the_dashboard_itself_is_taken(
    open_client: FlaskClient, headers: dict[str, str]
) -> None:
    assert open_client.post("/_sim/reset", headers=headers).status_code == 200


def test_reads_from_anywhere_are_answered(open_client: FlaskClient) -> None:
    answer = open_client.get("/_sim/defects", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 200


def test_the_dashboard_cannot_be_framed_or_cached(guarded: FlaskClient) -> None:
    page = guarded.get("/_sim/ui/", headers={"X-Control-Token": TOKEN})
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"  # it carries the token


def test_the_proxys_control_routes_refuse_another_sites_page_too() -> None:
    from simulator.proxy import create_proxy

    proxy = create_proxy({"API": "freefin", "UPSTREAM": "http://127.0.0.1:9"}).test_client()
    refused = proxy.put(
        "/_sim/chaos", json={"profile": "hostile"}, headers={"Origin": "http://evil.example"}
    )
    assert refused.status_code == 403
    assert proxy.get("/_sim/chaos").get_json()["profile"] == "none"  # nothing changed
    assert proxy.put("/_sim/chaos", json={"profile": "flaky"}).status_code == 200
