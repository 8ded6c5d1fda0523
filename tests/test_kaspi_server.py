"""Kaspi behaviour that needs a real server: concurrent idempotent creates and refunds, and
durability across kill -9 (acknowledged invoices, pending webhook deliveries)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from harness.simproc import SimulatorProcess
from simulator.core.signing import verify
from tests.conftest import ENGINES, database
from tests.kaspi_client import KEY_A, PHONE
from tests.receiver import running_receiver

pytestmark = pytest.mark.server
H = {"X-API-Key": KEY_A}


@pytest.fixture(scope="module", params=ENGINES)
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatorProcess]:
    db = database(request, request.param)
    with SimulatorProcess(db_path=db, extra_args=["--threads", "64"]) as proc:
        yield proc


@pytest.fixture
def clean(sim: SimulatorProcess) -> SimulatorProcess:
    requests.post(f"{sim.url}/_sim/reset", timeout=5).raise_for_status()
    return sim


def _post(url: str, body: dict[str, object], key: str | None = None) -> requests.Response:
    headers = {**H, "Idempotency-Key": key} if key else H
    return requests.post(url, json=body, headers=headers, timeout=20)


def _race_creates(sim: SimulatorProcess) -> list[requests.Response]:
    url = f"{sim.url}/api/v1/invoices"
    body = {"amount": 5000, "phone_number": PHONE, "external_order_id": "race-1"}
    with ThreadPoolExecutor(50) as pool:
        return list(pool.map(lambda _: _post(url, body, "race"), range(50)))


def _race_refunds(sim: SimulatorProcess) -> tuple[list[requests.Response], dict[str, str]]:
    """30 concurrent refunds of 7.00 of a paid 100.00 invoice, by both routes."""
    base = f"{sim.url}/api/v1"
    inv = _post(
        f"{base}/invoices", {"amount": 100, "phone_number": PHONE, "is_sandbox": True}
    ).json()
    _post(f"{base}/sandbox/invoices/{inv['id']}/simulate", {"status": "paid"})
    with ThreadPoolExecutor(30) as pool:
        responses = list(
            pool.map(
                lambda i: _post(
                    f"{base}/invoices/{inv['id']}/refund" if i % 2 else f"{base}/refunds",
                    {"amount": 7} if i % 2 else {"invoice_id": inv["id"], "amount": 7},
                ),
                range(30),
            )
        )
    after = requests.get(f"{base}/invoices/{inv['id']}", headers=H, timeout=5).json()
    return responses, after


def test_fifty_concurrent_same_key_creates_make_one_invoice(clean: SimulatorProcess) -> None:
    responses = _race_creates(clean)
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.content for r in responses}) == 1  # the same response, byte for byte
    assert sorted(r.headers["Idempotent-Replayed"] for r in responses).count("false") == 1
    listed = requests.get(f"{clean.url}/api/v1/invoices", headers=H, timeout=5).json()
    assert listed["pagination"]["total"] == 1
    events = requests.get(f"{clean.url}/_sim/events?api=kaspi", timeout=5).json()["items"]
    assert sum(e["kind"] == "invoice.created" for e in events) == 1


def test_concurrent_partial_refunds_never_exceed_the_amount(clean: SimulatorProcess) -> None:
    responses, after = _race_refunds(clean)
    accepted = [r for r in responses if r.status_code == 201]
    assert len(accepted) == 14  # 14 * 7 = 98; a 15th would be 105
    assert {r.status_code for r in responses} == {201, 409}
    assert (after["refunded_amount"], after["status"]) == ("98.00", "paid")


def test_the_race_checks_catch_a_broken_server() -> None:
    defects = [
        "--defect",
        "kaspi.idempotency_duplicate",
        "--defect",
        "kaspi.refund_over_remainder",
        "--threads",
        "64",
    ]
    with SimulatorProcess(extra_args=defects) as broken:
        assert len({r.json()["id"] for r in _race_creates(broken)}) > 1
        responses, after = _race_refunds(broken)
        assert sum(r.status_code == 201 for r in responses) == 15
        assert after["refunded_amount"] == "105.00"  # above the amount


def _wait_retrying(base: str, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = requests.get(f"{base}/jobs?state=retrying", headers=H, timeout=5).json()
        if jobs["pagination"]["total"] == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {count} retrying deliveries")


@pytest.mark.parametrize("engine", ENGINES)
def test_acknowledged_invoices_and_pending_deliveries_survive_kill_9(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    db = database(request, engine, str(tmp_path / "kaspi.db"))
    with running_receiver() as receiver:
        receiver.fail_first = 10**6  # every attempt fails until the restart
        first = SimulatorProcess(db_path=db).start()
        try:
            base = f"{first.url}/api/v1"
            endpoint = _post(
                f"{base}/webhooks", {"url": receiver.url, "events": ["invoice.created"]}
            ).json()
            made = [
                _post(
                    f"{base}/invoices",
                    {"amount": 100 + n, "phone_number": PHONE, "description": "[sim:pending]"},
                ).json()
                for n in range(5)
            ]
            receiver.wait_for(5)
            _wait_retrying(base, 5)  # every failed attempt recorded: nothing in flight
            first.kill()
        finally:
            first.close()
        receiver.fail_first = 0
        second = SimulatorProcess(db_path=db).start()
        try:
            base = f"{second.url}/api/v1"
            for invoice in made:
                got = requests.get(f"{base}/invoices/{invoice['id']}", headers=H, timeout=5)
                assert got.status_code == 200 and got.json()["amount"] == invoice["amount"]
            pending = requests.get(f"{base}/jobs?state=retrying", headers=H, timeout=5).json()
            assert pending["pagination"]["total"] == 5
            requests.post(
                f"{second.url}/_sim/clock/advance", json={"seconds": 6}, timeout=10
            ).raise_for_status()
            delivered = receiver.wait_for(10, timeout=20)[5:]
            assert {json.loads(d["body"])["data"]["id"] for d in delivered} == {
                i["id"] for i in made
            }
            assert all(
                verify(endpoint["secret"], d["body"], d["headers"]["X-Arzan-Signature"])
                for d in delivered
            )
        finally:
            second.close()
