"""The harness honours Retry-After on a 429 and on a 503 (RFC 9110 section 10.2.3): the request
is sent again once the target says so, in single requests and in a scenario's burst; a 503
that says nothing is an answer like any other. Shown on the bundled simulator's faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import patience
from harness.scenarios.loader import load_file
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import run_scenario
from harness.target import Target

pytestmark = pytest.mark.server

BANKS = "/api/v1/public/banks/sbp"
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture
def faults(target: Target) -> Iterator[Any]:
    """Add a fault to the target; every fault is cleared afterwards."""
    url = f"{target.control_url}/faults"

    def add(**fault: Any) -> None:
        requests.post(url, json=fault, timeout=5).raise_for_status()

    yield add
    requests.delete(url, timeout=5).raise_for_status()


def _banks(target: Target) -> requests.Response:
    headers = {"Authorization": f"Bearer {target.freefin_key}"}
    return patience.request("GET", f"{target.target_url}{BANKS}", headers=headers, timeout=10)


@pytest.mark.parametrize("status", [429, 503])
def test_a_status_that_says_when_is_waited_out(target: Target, faults: Any, status: int) -> None:
    faults(path=BANKS, kind="status", status=status, retry_after=1, count=2)
    before = patience.LEDGER.snapshot()["retries"]
    assert _banks(target).status_code == 200
    assert patience.LEDGER.snapshot()["retries"] == before + 2


def test_a_503_that_says_nothing_stands(target: Target, faults: Any) -> None:
    faults(path=BANKS, kind="status", status=503, count=1)
    before = patience.LEDGER.snapshot()["retries"]
    assert _banks(target).status_code == 503
    assert patience.LEDGER.snapshot()["retries"] == before


def test_a_burst_sends_again_what_was_asked_to_wait(
    target: Target, faults: Any, scenario_receiver: WebhookReceiver
) -> None:
    """Five of the fifty racing same-key creates are answered 503 with Retry-After: sent again,
    the scenario still sees one 201 and the rest replays."""
    name = "50 concurrent requests with one key create exactly one payment"
    (scenario,) = [
        s for s in load_file(SCENARIOS / "freefin" / "idempotency.yaml") if s.name == name
    ]
    faults(path="/payments$", kind="status", status=503, retry_after=1, count=5, method="POST")
    run_scenario(scenario, target, scenario_receiver)
