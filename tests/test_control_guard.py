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


# -- the names it answers to (DNS rebinding) ------------------------------------------------

REBOUND = {
    "Host": "evil.example:8080",
    "Origin": "http://evil.example:8080",
    "Sec-Fetch-Site": "same-origin",  # the rebound page is same-origin with itself
}


def _app(**config: object) -> FlaskClient:
    return create_app({"TICKER": False, "DB_PATH": ":memory:", **config}).test_client()


def test_a_rebound_name_can_neither_change_nor_read_the_simulator(
    open_client: FlaskClient,
) -> None:
    refused = open_client.post("/_sim/clock/advance", json={"seconds": 60}, headers=REBOUND)
    assert refused.status_code == 403, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["code"] == "host_not_allowed"
    assert open_client.get("/_sim/clock").get_json()["offset_s"] == 0  # nothing moved
    for path in ("/_sim/defects", "/_sim/ui/", "/_sim/events?api=freefin", "/pay/pay_x"):
        answer = open_client.get(path, headers={"Host": "evil.example:8080"})
        assert answer.status_code == 403, path
        assert answer.get_json()["error"]["code"] == "host_not_allowed", path


def test_the_simulated_apis_and_health_answer_to_any_name(open_client: FlaskClient) -> None:
    headers = {"Host": "sandbox.partner.example"}
    assert open_client.get("/_sim/health", headers=headers).status_code == 200
    assert open_client.get("/api/v1/public/payments/x", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("config", "host", "allowed"),
    [
        ({}, "localhost", True),
        ({}, "localhost:8080", True),
        ({}, "LOCALHOST.", True),
        ({}, "127.0.0.1:8080", True),  # in-process: the loopback addresses
        ({}, "[::1]:8080", True),
        ({}, "sim.example", False),
        ({}, "127.0.0.1.nip.io", False),
        ({"LISTEN": [("10.1.2.3", 8080)]}, "10.1.2.3:8080", True),
        ({"LISTEN": [("10.1.2.3", 8080)]}, "10.1.2.4:8080", False),
        ({"LISTEN": [("10.1.2.3", 8080)]}, "127.0.0.1:8080", False),
        ({"LISTEN": [("0.0.0.0", 8080)]}, "192.168.1.20:8080", True),  # no IP can be rebound
        ({"LISTEN": [("0.0.0.0", 8080)]}, "sim.example", False),
        ({"ALLOWED_HOSTS": ["sim.example"]}, "sim.example:8080", True),
        ({"ALLOWED_HOSTS": ["sim.example"]}, "other.example", False),
        ({"ALLOWED_HOSTS": ["*"]}, "anything.example", True),
    ],
)
def test_the_control_api_answers_to_its_address_localhost_and_the_names_given(
    config: dict[str, object], host: str, allowed: bool
) -> None:
    answer = _app(**config).get("/_sim/defects", headers={"Host": host})
    assert (answer.status_code == 200) is allowed, answer.get_data(as_text=True)


def test_an_origin_by_an_allowed_name_is_same_site_another_is_not() -> None:
    client = _app(ALLOWED_HOSTS=["sim.example"])
    own = {"Host": "sim.example:8080", "Origin": "http://sim.example:8080"}
    assert client.post("/_sim/reset", headers=own).status_code == 200
    other = {"Host": "sim.example:8080", "Origin": "http://localhost:8080"}
    answer = client.post("/_sim/reset", headers=other)
    assert answer.get_json()["error"]["code"] == "cross_site_refused"


def test_the_proxys_control_routes_answer_to_known_names_only() -> None:
    from simulator.proxy import create_proxy

    proxy = create_proxy(
        {"API": "freefin", "UPSTREAM": "http://127.0.0.1:9", "LISTEN": [("127.0.0.1", 8090)]}
    ).test_client()
    refused = proxy.put("/_sim/chaos", json={"profile": "hostile"}, headers=REBOUND)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "host_not_allowed"
    assert proxy.get("/_sim/chaos", headers={"Host": "evil.example"}).status_code == 403
    assert proxy.get("/_sim/chaos", headers={"Host": "127.0.0.1:8090"}).status_code == 200


def test_a_real_server_refuses_the_rebound_reset() -> None:
    """The request a DNS-rebound page sends, over a real socket (as curl -H 'Host: ...')."""
    import requests

    from harness.simproc import SimulatorProcess

    with SimulatorProcess(extra_args=["--allowed-host", "sim.test"]) as sim:
        refused = requests.post(f"{sim.url}/_sim/reset", headers=REBOUND, timeout=10)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "host_not_allowed"
        given = {"Host": f"sim.test:{sim.port}"}
        assert requests.post(f"{sim.url}/_sim/reset", headers=given, timeout=10).ok
        assert requests.post(f"{sim.url}/_sim/reset", timeout=10).ok  # 127.0.0.1:port
