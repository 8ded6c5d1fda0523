"""The validating proxy (paysim proxy) between a client and the simulator, both real servers on
loopback: requests and answers pass through unchanged (an event stream as it is written, a large
body sent on: tests/test_proxy_streaming.py holds framing and memory), the client rules judge
the client as the simulator does, the server rules judge the upstream, each finding said of its
side, and faults act toward the client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess, free_port
from paysim.cli import main

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_test_rom001_Jq7Zt2xVw9LmN4pR"
PAYMENTS = "/api/v1/public/payments"


class ProxyProcess:
    def __init__(self, api: str, upstream: str, folder: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "simulator.proxy",
            "--api",
            api,
            "--upstream",
            upstream,
            "--port",
            str(self.port),
            "--db",
            str(folder / f"proxy-{api}.db"),
            "--log-level",
            "warning",
            *extra,
        ]
        self.log = folder / f"proxy-{api}.log"

    def __enter__(self) -> ProxyProcess:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/_sim/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the proxy did not start:\n" + self.log.read_text())

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("upstream")
    with SimulatorProcess(db_path=str(folder / "sim.db")) as sim:
        yield sim.url


@pytest.fixture(scope="module")
def proxies(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("proxy")
    with (
        ProxyProcess("freefin", upstream, folder) as freefin,
        ProxyProcess("kaspi", upstream + "/api", folder) as kaspi,
    ):
        yield {"freefin": freefin.url, "kaspi": kaspi.url}


@pytest.fixture
def proxy(proxies: dict[str, str], upstream: str) -> str:
    for url in proxies.values():
        requests.delete(f"{url}/_sim/clients/report", timeout=10).raise_for_status()
        requests.delete(f"{url}/_sim/faults", timeout=10).raise_for_status()
    requests.delete(f"{upstream}/_sim/defects", timeout=10).raise_for_status()
    return proxies["freefin"]


def _headers(key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _pay(base: str, key: str | None = None, **body: Any) -> requests.Response:
    payload = {"amount": 10000, "order_id": "o-1", **body}
    return requests.post(base + PAYMENTS, json=payload, headers=_headers(key), timeout=10)


def _findings(proxy: str) -> dict[str, dict[str, Any]]:
    report = requests.get(f"{proxy}/_sim/clients/report", timeout=10).json()
    (client,) = report["clients"]
    return {f["rule"]: f for f in client["findings"]}


def _failed(proxy: str) -> set[str]:
    return {rule for rule, f in _findings(proxy).items() if f["verdict"] == "failed"}


def test_requests_and_answers_pass_through_unchanged(proxy: str, upstream: str) -> None:
    via = _pay(proxy, str(uuid.uuid4()))
    assert via.status_code == 201
    payment = via.json()["payment"]
    direct = requests.get(f"{upstream}{PAYMENTS}/{payment['id']}", headers=_headers(), timeout=10)
    again = requests.get(f"{proxy}{PAYMENTS}/{payment['id']}", headers=_headers(), timeout=10)
    assert again.status_code == 200 and again.content == direct.content
    assert again.headers["Content-Type"] == direct.headers["Content-Type"]
    wrong = requests.get(f"{proxy}{PAYMENTS}/{payment['id']}", timeout=10)  # no key
    assert wrong.status_code == 401 and "error" in wrong.json()
    elsewhere = requests.get(f"{proxy}/api/v1/me", timeout=10)
    assert elsewhere.status_code == 404 and "error" in elsewhere.json()  # not this proxy's API


def test_a_careful_client_grades_clean_and_the_server_rules_hold(proxy: str) -> None:
    key = str(uuid.uuid4())
    assert _pay(proxy, key).status_code == 201
    findings = _findings(proxy)
    assert {r for r, f in findings.items() if f["verdict"] == "failed"} == set()
    assert findings["server.response_conformance"]["verdict"] == "passed"
    assert findings["server.response_conformance"]["side"] == "server"
    assert findings["client.idempotency_key"]["side"] == "client"


@pytest.mark.parametrize(
    ("mistake", "rule"),
    [
        (lambda p: _pay(p, None), "client.idempotency_key"),
        (lambda p: _pay(p, str(uuid.uuid4()), amount=100.0), "client.money"),
        (lambda p: _pay(p, str(uuid.uuid4()), method="crypto"), "client.request_conformance"),
    ],
    ids=["no_key", "float_amount", "unknown_enum"],
)
def test_the_client_rules_judge_through_the_proxy(proxy: str, mistake: Any, rule: str) -> None:
    mistake(proxy)
    assert _failed(proxy) == {rule}


def test_a_lost_answer_injected_by_the_proxy_grades_the_retry(proxy: str) -> None:
    fault = {"path": f"^{PAYMENTS}$", "kind": "status", "status": 502, "when": "after", "count": 2}
    requests.post(f"{proxy}/_sim/faults", json=fault, timeout=10).raise_for_status()
    key = str(uuid.uuid4())
    assert _pay(proxy, key).status_code == 502  # the payment exists upstream
    time.sleep(0.3)
    assert _pay(proxy, key).status_code == 502
    time.sleep(0.6)
    replay = _pay(proxy, key)
    assert replay.status_code in (200, 201) and replay.json().get("idempotent") is True
    assert _failed(proxy) == set()
    assert _findings(proxy)["client.same_key_on_retry"]["verdict"] == "passed"

    requests.delete(f"{proxy}/_sim/clients/report", timeout=10).raise_for_status()
    requests.post(f"{proxy}/_sim/faults", json=fault, timeout=10).raise_for_status()
    _pay(proxy, str(uuid.uuid4()), order_id="o-2")
    _pay(proxy, str(uuid.uuid4()), order_id="o-2")  # a new key: the second payment
    assert _failed(proxy) == {"client.same_key_on_retry"}


def test_the_server_rules_catch_an_upstream_that_breaks_the_seed(proxy: str, upstream: str) -> None:
    requests.post(
        f"{upstream}/_sim/defects", json={"enable": ["freefin.wrong_type"]}, timeout=10
    ).raise_for_status()
    assert _pay(proxy, str(uuid.uuid4())).status_code == 201
    findings = _findings(proxy)
    assert _failed(proxy) == {"server.response_conformance"}
    evidence = json.dumps(findings["server.response_conformance"]["evidence"])
    assert "payment.amount" in evidence


def test_an_upstream_5xx_is_the_servers_finding_not_the_clients(proxy: str, upstream: str) -> None:
    fault = {"path": f"^{PAYMENTS}$", "kind": "status", "status": 500, "count": 1}
    requests.post(f"{upstream}/_sim/faults", json=fault, timeout=10).raise_for_status()
    key = str(uuid.uuid4())
    assert _pay(proxy, key).status_code == 500
    time.sleep(0.3)
    assert _pay(proxy, key).status_code == 201
    assert _failed(proxy) == {"server.no_server_errors"}


def test_the_event_stream_is_forwarded_as_it_is_written(proxy: str) -> None:
    got: list[tuple[float, str]] = []

    def read() -> None:
        with requests.get(
            f"{proxy}/api/v1/public/events", headers=_headers(), stream=True, timeout=10
        ) as resp:
            for line in resp.iter_lines(decode_unicode=True):
                if line.startswith("data:"):
                    got.append((time.monotonic(), line))
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)
    sent = time.monotonic()
    assert _pay(proxy, str(uuid.uuid4())).status_code == 201
    reader.join(10)
    assert got, "no event came through the proxy"
    assert got[0][0] - sent < 2.0  # as it was written, not when the stream ended


def test_a_large_body_passes_through_whole(proxy: str) -> None:
    big = {"amount": 100, "order_id": "o-big", "description": "x" * (1024 * 1024 + 10)}
    resp = requests.post(
        proxy + PAYMENTS,
        data=json.dumps(big),
        headers=_headers(str(uuid.uuid4())),
        timeout=30,
    )
    assert resp.status_code == 413 and "error" in resp.json()  # the upstream's own answer


def test_kaspi_through_its_proxy_and_the_report_command(
    proxies: dict[str, str], proxy: str, tmp_path: Path
) -> None:
    kaspi = proxies["kaspi"]
    headers = {"X-API-Key": "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"}
    body = {"amount": "100.00", "phone_number": "77011234567", "is_sandbox": True}
    requests.post(f"{kaspi}/api/v1/invoices", json=body, headers=headers, timeout=10)
    assert _failed(kaspi) == {"client.idempotency_key", "client.money"}
    code = main(["client-report", "--target-url", kaspi, "--report-dir", str(tmp_path)])
    assert code == 1
    assert "client.money" in (tmp_path / "client-grade.md").read_text()


def test_the_command_names_itself_and_lists_its_choices() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "paysim", "proxy", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith("usage: paysim proxy")
    assert "{freefin,kaspi}" in out and "{flaky,hostile,none}" in out
