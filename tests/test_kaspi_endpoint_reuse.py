"""A target that caps webhook endpoints and cannot delete one (Kaspi: 20, no DELETE) keeps
working run after run: with a receiver at the same address each run, the endpoint an earlier run
made is used again (its id, path and secret kept between runs); with a receiver on a port chosen
per run, a full target is a skip that says what to do."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.scenarios import endpoint_store
from harness.scenarios.kaspi_endpoint import kaspi_endpoint
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.state import ScenarioSkip
from harness.simproc import SimulatorProcess, free_port
from harness.target import Target, bundled_credentials

pytestmark = pytest.mark.server


@pytest.fixture()
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as proc:
        yield proc


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAYSIM_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def _target(sim: SimulatorProcess) -> Target:
    creds = bundled_credentials()
    return Target(
        target_url=sim.url,
        kaspi_url=sim.url + "/api",
        api="kaspi",
        kaspi_key=creds["kaspi_key"],
        bundled=True,
    )


def _endpoints(target: Target) -> list[dict[str, object]]:
    answer = requests.get(
        f"{target.kaspi_url}/v1/webhooks", headers={"X-API-Key": target.kaspi_key}, timeout=10
    )
    return list(answer.json()["items"])


def _fill(target: Target) -> None:
    """Make endpoints until the target refuses one (its cap)."""
    for _ in range(30):
        made = requests.post(
            f"{target.kaspi_url}/v1/webhooks",
            json={"url": "http://127.0.0.1:9/elsewhere", "events": ["*"]},
            headers={"X-API-Key": target.kaspi_key},
            timeout=10,
        )
        if made.status_code == 409:
            return
        assert made.status_code == 201, made.text
    raise AssertionError("no cap reached")


def _run(target: Target, listen: str) -> dict[str, object]:
    """One run's endpoint, and a test event sent through it and checked on arrival."""
    with WebhookReceiver(listen=listen) as rx, requests.Session() as session:
        endpoint = kaspi_endpoint(target, rx, session)
        sent = requests.post(
            f"{target.kaspi_url}/v1/webhooks/{endpoint['id']}/test",
            headers={"X-API-Key": target.kaspi_key},
            timeout=10,
        )
        assert sent.ok, sent.text
        for _ in range(100):
            got = rx.deliveries(str(endpoint["token"]))
            if got:
                break
            time.sleep(0.05)
        assert got and got[0].signature_valid, "the test event did not arrive signed"
        return endpoint


def test_a_fixed_receiver_address_reuses_the_endpoint_of_an_earlier_run(
    sim: SimulatorProcess, state: Path
) -> None:
    target = _target(sim)
    listen = f"127.0.0.1:{free_port()}"
    first = _run(target, listen)
    count = len(_endpoints(target))
    second = _run(target, listen)  # the next run: a new receiver on the same address
    assert second["id"] == first["id"] and len(_endpoints(target)) == count
    _fill(target)
    assert _run(target, listen)["id"] == first["id"]  # a full target still works
    path = state / endpoint_store.FILE
    kept = json.loads(path.read_text())
    assert target.kaspi_key not in path.read_text()  # the key itself is not written
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert kept[endpoint_store.key_of(target.kaspi_url, target.kaspi_key)]["id"] == first["id"]


def test_a_receiver_on_a_port_per_run_keeps_nothing_and_a_full_target_says_what_to_do(
    sim: SimulatorProcess, state: Path
) -> None:
    target = _target(sim)
    _run(target, "127.0.0.1:0")
    assert not (state / endpoint_store.FILE).exists()
    _fill(target)
    with pytest.raises(ScenarioSkip, match="--webhook-listen"):
        _run(target, "127.0.0.1:0")
