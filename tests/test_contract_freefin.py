"""The freefin contract suite has teeth: against the simulator with one defect on, it fails on
the check that exists to catch that defect; against the clean simulator it passes.

One simulator process for the module; defects are switched through its control API with a
reset in between. Each defect runs the suite in this process (``run_contract(in_process=True)``)
narrowed to what reaches the defect: a probe test (``-k``), or the generated cases and stateful
chains of the operations involved. The clean run is the whole default run, in a child process,
as ``paysim conform`` runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.contract.run import run_contract
from harness.simproc import SimulatorProcess
from harness.target import bundled_credentials

pytestmark = [pytest.mark.server, pytest.mark.slow]

API = "freefin"


# defect -> (checks that must fail, -k expression, operations the run is narrowed to)
DEFECTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "freefin.undocumented_status": ("status_code_conformance", "cancel", ()),
    # payment.amount rendered as a string breaks the schema and the amount format alike.
    "freefin.wrong_type": ("response_schema_conformance amount_format", "idempotent", ()),
    "freefin.missing_required": ("response_schema_conformance", "idempotent", ()),
    "freefin.server_error": ("not_a_server_error", "test_operation", ("createPayment",)),
    "freefin.auth_ignored": ("ignored_auth", "cancel", ()),
    "freefin.idempotency_duplicate": ("idempotent_replay", "idempotent", ()),
    "freefin.refund_over_remainder": ("refunds_within_amount", "refunds", ()),
    "freefin.no_retry_after": ("retry_after_on_429", "rate_limit", ()),
    "freefin.wrong_error_envelope": ("error_envelope", "cancel", ()),
    "freefin.negative_data_accepted": (
        "negative_data_rejection", "test_operation", ("createPayment",)),
    "freefin.cancel_any_status": ("status_follows_state_machine", "cancel", ()),
    "freefin.negative_money": ("money_never_negative", "idempotent", ()),
    "freefin.content_type_wrong": ("content_type_conformance", "cancel", ()),
    "freefin.resource_unavailable": (
        "ensure_resource_availability", "stateful", ("createPayment", "getPayment")),
    "freefin.isolation_broken": ("merchant_isolation", "cancel", ()),
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process


def settings(sim: SimulatorProcess) -> dict[str, str]:
    """The simulator as a foreign target: its URL, control API and seeded credentials."""
    return {"target_url": sim.url, "control_url": f"{sim.url}/_sim", **bundled_credentials()}


def summary(out: Path, api: str = API) -> dict[str, Any]:
    """The run's summary for ``api`` (contract-summary.json)."""
    data: dict[str, Any] = json.loads((out / "contract-summary.json").read_text("utf-8"))
    return dict(data["apis"][api])


def switch(sim: SimulatorProcess, defect: str | None) -> None:
    """Back to the seed, then at most one defect on."""
    requests.post(f"{sim.url}/_sim/reset", timeout=10).raise_for_status()
    if defect:
        resp = requests.post(f"{sim.url}/_sim/defects", json={"enable": [defect]}, timeout=10)
        resp.raise_for_status()


def test_clean_simulator_passes_at_both_levels(sim: SimulatorProcess, tmp_path: Path) -> None:
    for level in ("spec", "strict"):
        switch(sim, None)
        out = tmp_path / level
        code = run_contract(settings(sim), API, level, "default", out,
                            junit_xml=out / "junit.xml")
        data = summary(out)
        assert data["failed_checks"] == [], json.dumps(data["results"], ensure_ascii=False)[:3000]
        assert data["server_errors"] == 0
        assert code == 0
        assert (out / "junit.xml").exists()


def test_every_check_has_a_defect() -> None:
    """The suite's own checks each have a defect here that must trip them."""
    from harness.contract.checks import PAYMENT_CHECKS

    caught = {check for checks, _select, _ops in DEFECTS.values() for check in checks.split()}
    assert set(PAYMENT_CHECKS) <= caught, set(PAYMENT_CHECKS) - caught


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_is_caught_by_its_check(
    sim: SimulatorProcess, tmp_path: Path, defect: str
) -> None:
    catalog = requests.get(f"{sim.url}/_sim/defects", timeout=10).json()["catalog"]
    if defect not in catalog:
        pytest.skip(f"the simulator has no defect {defect}")
    checks, select, operations = DEFECTS[defect]
    switch(sim, defect)
    try:
        code = run_contract(settings(sim), API, "spec", "default", tmp_path,
                            operations=operations, select=select, in_process=True)
    finally:
        switch(sim, None)
    failed = summary(tmp_path)["failed_checks"]
    for check in checks.split():
        assert check in failed, f"{defect}: expected {check} to fail, failed: {failed}"
    assert code == 1
