"""The Kaspi contract suite has teeth: against the simulator with one defect on, it fails on
the check that exists to catch that defect; against the clean simulator it passes at both levels.

Same arrangement as the freefin module: one simulator, defects switched through the control
API, each defect's run in this process and narrowed to what reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.contract.run import run_contract
from harness.simproc import SimulatorProcess
from tests.test_contract_freefin import settings, summary, switch

pytestmark = [pytest.mark.server, pytest.mark.slow]

API = "kaspi"

# defect -> (checks that must fail, level, -k expression, operations the run is narrowed to).
# The seed gives most Kaspi responses no schema: a missing field is a strict-level finding.
# Not here: kaspi.simulate_non_sandbox and the webhook defects (the scenario suites' business).
DEFECTS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "kaspi.undocumented_status": ("status_code_conformance", "spec", "cancel", ()),
    "kaspi.wrong_type": ("amount_format response_schema_conformance", "spec", "idempotent", ()),
    "kaspi.amount_format": ("amount_format", "spec", "idempotent", ()),
    "kaspi.missing_required": ("response_schema_conformance", "strict", "idempotent", ()),
    # Strict: generated bodies then mostly pass the phone number rule checked before the defect.
    "kaspi.server_error": (
        "not_a_server_error", "strict", "test_operation", ("POST /v1/invoices",)),
    "kaspi.auth_ignored": ("ignored_auth", "spec", "cancel", ()),
    "kaspi.idempotency_duplicate": ("idempotent_replay", "spec", "idempotent", ()),
    "kaspi.refund_over_remainder": ("refunds_within_amount", "spec", "refunds", ()),
    "kaspi.no_retry_after": ("retry_after_on_429", "spec", "rate_limit", ()),
    "kaspi.wrong_error_envelope": ("error_envelope", "spec", "cancel", ()),
    "kaspi.isolation_broken": ("merchant_isolation", "spec", "cancel", ()),
    "kaspi.cancel_any_status": ("status_follows_state_machine", "spec", "cancel", ()),
}

@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process


@pytest.mark.parametrize("level", ["spec", "strict"])
def test_clean_simulator_passes(sim: SimulatorProcess, tmp_path: Path, level: str) -> None:
    switch(sim, None)
    code = run_contract(settings(sim), API, level, "default", tmp_path,
                        junit_xml=tmp_path / "junit.xml", in_process=True)
    data = summary(tmp_path, API)
    assert data["failed_checks"] == [], json.dumps(data["results"], ensure_ascii=False)[:3000]
    assert data["server_errors"] == 0
    assert data["requests"] > 0
    assert code == 0
    assert (tmp_path / "junit.xml").exists()


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_is_caught_by_its_check(
    sim: SimulatorProcess, tmp_path: Path, defect: str
) -> None:
    catalog = requests.get(f"{sim.url}/_sim/defects", timeout=10).json()["catalog"]
    if defect not in catalog:
        pytest.skip(f"the simulator has no defect {defect}")
    checks, level, select, operations = DEFECTS[defect]
    switch(sim, defect)
    try:
        code = run_contract(settings(sim), API, level, "default", tmp_path,
                            operations=operations, select=select, in_process=True)
    finally:
        switch(sim, None)
    failed = summary(tmp_path, API)["failed_checks"]
    for check in checks.split():
        assert check in failed, f"{defect}: expected {check} to fail, failed: {failed}"
    assert code == 1
