"""Webhooks reach only where allowed, judged on the address the delivery connects to; the
simulator's own address is never a destination; the control API can be guarded by a token."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from harness.scenarios.receiver import WebhookReceiver
from harness.simproc import SimulatorProcess
from simulator.core.destinations import Guard, Refused
from simulator.core.webhooks import WebhookConfig

PARTNER_NET = "10.9.0.0/16"
OWN = ("127.0.0.1", 18080)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:18112\\@10.9.0.1/hook",  # urlsplit reads 10.9.0.1, the client .0.2
        "http://10.9.0.1\\@127.0.0.1/hook",
        "http://user@10.9.0.1/hook",  # userinfo
        "http://10.9.0.1:80@127.0.0.1/hook",
        "http://2130706433/hook",  # 127.0.0.1 in decimal
        "http://0177.0.0.1/hook",  # octal
        "http://0x7f.0.0.1/hook",  # hex
        "http://0x7f000001/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv6-mapped
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "http://127.1/hook",
        "http://10.9.0.1 /hook",  # a space
        "http://10.9.0.1\t.evil/hook",
        "http://169.254.169.254/latest/meta-data",  # metadata
        "http://evil.example/hook",  # a name not allowed: refused without DNS
        "ftp://10.9.0.1/hook",
    ],
)
def test_a_partner_network_allow_list_refuses_every_other_spelling(url: str) -> None:
    assert not WebhookConfig(allow_hosts=[PARTNER_NET]).allows(url)


@pytest.mark.parametrize(
    "url", ["http://10.9.0.1/hook", "http://10.9.200.7:8443/x", "http://[::ffff:10.9.0.1]/hook"]
)
def test_the_partner_network_itself_is_allowed(url: str) -> None:
    assert WebhookConfig(allow_hosts=[PARTNER_NET]).allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:18080/_sim/reset",
        "http://localhost:18080/_sim/reset",
        "http://0.0.0.0:18080/_sim/reset",
        "http://2130706433:18080/_sim/reset",
        "http://[::ffff:127.0.0.1]:18080/_sim/reset",
        "http://127.0.0.9:18080/_sim/reset",
    ],
)
def test_the_simulators_own_address_is_never_a_destination(url: str) -> None:
    for allow in (["localhost", "127.0.0.0/8", "::1"], ["*"]):
        cfg = WebhookConfig(allow_hosts=allow, own=[OWN])
        assert not cfg.allows(url), (allow, url)
    assert WebhookConfig(own=[OWN]).allows("http://127.0.0.1:18081/hook")


def _resolving(table: dict[str, list[str]]) -> Guard:
    def resolver(host: str, port: int, numeric_only: bool) -> list[str]:
        if numeric_only:
            from simulator.core.destinations import resolve

            return resolve(host, port, True)
        return table.get(host, [])

    return Guard(["hooks.partner.test"], [OWN], resolver)


def test_a_name_is_judged_on_every_address_it_resolves_to() -> None:
    guard = _resolving({"hooks.partner.test": ["10.9.0.1", "169.254.169.254"]})
    with pytest.raises(Refused, match="link-local"):
        guard.check("http://hooks.partner.test/hook")
    guard = _resolving({"hooks.partner.test": ["10.9.0.1", "127.0.0.1"]})
    with pytest.raises(Refused, match="own address"):
        guard.check("http://hooks.partner.test:18080/hook")
    guard = _resolving({"hooks.partner.test": ["10.9.0.1"]})
    dest = guard.check("http://hooks.partner.test:8080/hook?x=1")
    assert dest.pinned_url == "http://10.9.0.1:8080/hook?x=1"
    assert dest.host_header == "hooks.partner.test:8080"


# -- against a real simulator -----------------------------------------------------------------
KEY_A = "sk_test_rom001_Jq7Zt2xVw9LmN4pR"
KEY_B = "sk_test_vas001_Lm8Np3Qr6St9Uv2W"
PAYMENTS = "/api/v1/public/payments"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as proc:
        yield proc


def _payment(sim: SimulatorProcess, key: str, **extra: object) -> requests.Response:
    return requests.post(
        f"{sim.url}{PAYMENTS}",
        json={"amount": 100, "metadata": {"sim_outcome": "pending"}, **extra},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def _deliveries(sim: SimulatorProcess) -> list[dict[str, object]]:
    return list(requests.get(f"{sim.url}/_sim/webhooks/deliveries", timeout=5).json()["items"])


@pytest.mark.server
def test_one_merchant_cannot_reset_the_simulator_through_a_webhook(sim: SimulatorProcess) -> None:
    mine = _payment(sim, KEY_A).json()["payment"]["id"]
    _payment(sim, KEY_B, webhook_url=f"{sim.url}/_sim/reset")
    requests.post(
        f"{sim.url}/_sim/transition",
        json={"api": "freefin", "object": "payment", "id": mine, "status": "succeeded"},
        timeout=5,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        dead = [d for d in _deliveries(sim) if str(d.get("url", "")).endswith("/_sim/reset")]
        if dead and dead[0]["status"] == "dead":
            break
        time.sleep(0.05)
    assert dead and dead[0]["last_error"] == "destination not allowed", dead
    still = requests.get(
        f"{sim.url}{PAYMENTS}/{mine}", headers={"Authorization": f"Bearer {KEY_A}"}, timeout=5
    )
    assert still.status_code == 200, "merchant A's payment was wiped by merchant B's webhook"


class _Redirector(BaseHTTPRequestHandler):
    location: ClassVar[str] = ""
    hits: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        _Redirector.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(307)
        self.send_header("Location", _Redirector.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.server
def test_a_redirect_is_not_followed(sim: SimulatorProcess) -> None:
    with WebhookReceiver() as target:
        token = target.new_token()
        _Redirector.location, _Redirector.hits = target.url_for(token), []
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            _payment(sim, KEY_A, webhook_url=url)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not _Redirector.hits:
                time.sleep(0.05)
            time.sleep(0.3)
            assert _Redirector.hits, "the webhook never came"
            assert target.deliveries(token) == [], "the delivery followed the redirect"
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.server
def test_the_control_api_answers_only_with_its_token() -> None:
    with SimulatorProcess(extra_args=["--control-token", "t0ken"]) as guarded:
        refused = requests.post(f"{guarded.url}/_sim/reset", timeout=5)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "control_token_required"
        wrong = requests.post(
            f"{guarded.url}/_sim/reset", headers={"X-Control-Token": "nope"}, timeout=5
        )
        assert wrong.status_code == 401
        ok = requests.post(
            f"{guarded.url}/_sim/reset", headers={"X-Control-Token": "t0ken"}, timeout=5
        )
        assert ok.status_code == 200
