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

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(600)]  # whole runs
CLEAN_RUNS = pytest.mark.xdist_group("contract_freefin_clean_runs")  # computed once

API = "freefin"


# defect -> (checks that must fail, level, -k expression, operations the run is narrowed to)
DEFECTS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "freefin.undocumented_status": ("status_code_conformance", "spec", "cancel", ()),
    # payment.amount rendered as a string breaks the schema and the amount format alike.
    "freefin.wrong_type": ("response_schema_conformance amount_format", "spec", "idempotent", ()),
    "freefin.missing_required": ("response_schema_conformance", "spec", "idempotent", ()),
    "freefin.server_error": ("not_a_server_error", "spec", "test_operation", ("createPayment",)),
    "freefin.valid_data_refused": (
        "positive_data_acceptance",
        "spec",
        "test_operation",
        ("createPayment",),
    ),
    "freefin.auth_ignored": ("ignored_auth", "spec", "cancel", ()),
    "freefin.idempotency_duplicate": ("idempotent_replay", "spec", "idempotent", ()),
    "freefin.refund_over_remainder": ("refunds_within_amount", "spec", "refunds", ()),
    # Strict: the supplement makes the 429's Retry-After required (the seed only documents it).
    "freefin.no_retry_after": (
        "retry_after_on_429 response_headers_conformance",
        "strict",
        "rate_limit",
        (),
    ),
    "freefin.wrong_error_envelope": ("error_envelope", "spec", "cancel", ()),
    "freefin.negative_data_accepted": (
        "negative_data_rejection",
        "spec",
        "test_operation",
        ("createPayment",),
    ),
    "freefin.cancel_any_status": ("status_follows_state_machine", "spec", "cancel", ()),
    "freefin.negative_money": ("money_never_negative", "spec", "idempotent", ()),
    "freefin.content_type_wrong": ("content_type_conformance", "spec", "cancel", ()),
    "freefin.resource_unavailable": (
        "ensure_resource_availability",
        "spec",
        "stateful",
        ("createPayment", "getPayment"),
    ),
    "freefin.isolation_broken": ("merchant_isolation", "spec", "cancel", ()),
    "freefin.method_not_405": ("unsupported_method", "spec", "test_operation", ("createPayment",)),
    "freefin.allow_header_wrong": (
        "allow_header_conformance",
        "spec",
        "test_operation",
        ("createPayment",),
    ),
}

# Checks of the run's matrix that nothing in these contracts can trigger (the run reports them
# as "not_applicable", and the matrix shows "n/a"):
NOT_APPLICABLE = {
    # No DELETE operation: nothing is ever freed, so nothing can be used after it.
    "use_after_free",
    # No operation declares a required header parameter (credentials are ignored_auth's).
    "missing_required_header",
    # Needs several identities ([auth.wfc]); merchant_isolation checks it with merchant B's key.
    "object_level_authorization",
}
# The spec-level run's known spec gap: the seed documents no 400 for a refund.
REFUND_400_GAP = (
    "status_code_conformance",
    "paths./api/v1/public/payments/{id}/refund.post.responses.400",
)


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


@pytest.fixture(scope="module")
def clean_runs(
    sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, Path, dict[str, Any]]]:
    """The whole default run against the clean simulator at each level, as ``paysim conform``
    runs it (a child process): level -> (exit code, report directory, summary)."""
    runs = {}
    for level in ("spec", "strict"):
        switch(sim, None)
        out = tmp_path_factory.mktemp(f"clean-{API}-{level}")
        code = run_contract(settings(sim), API, level, "default", out, junit_xml=out / "junit.xml")
        runs[level] = (code, out, summary(out))
    return runs


def matrix_checks(runs: dict[str, tuple[int, Path, dict[str, Any]]]) -> set[str]:
    """Every check that is a column of the runs' matrices."""
    return {row["check"] for _code, _out, data in runs.values() for row in data["results"]}


@CLEAN_RUNS
def test_clean_simulator_passes_at_both_levels(
    clean_runs: dict[str, tuple[int, Path, dict[str, Any]]],
) -> None:
    for code, out, data in clean_runs.values():
        assert data["failed_checks"] == [], json.dumps(data["results"], ensure_ascii=False)[:3000]
        assert data["server_errors"] == 0
        assert data["requests"] > 0
        assert code == 0
        assert (out / "junit.xml").exists()


@CLEAN_RUNS
def test_spec_gaps_are_recorded_at_spec_and_none_at_strict(
    clean_runs: dict[str, tuple[int, Path, dict[str, Any]]],
) -> None:
    gaps = {(gap["check"], gap["entry_path"]) for gap in clean_runs["spec"][2]["spec_gaps"]}
    assert REFUND_400_GAP in gaps, sorted(gaps)
    assert clean_runs["strict"][2]["spec_gaps"] == []


@CLEAN_RUNS
def test_every_check_has_a_defect(clean_runs: dict[str, tuple[int, Path, dict[str, Any]]]) -> None:
    """Every check of the run's matrix has a defect here that must trip it, or cannot apply."""
    from harness.contract.checks import PAYMENT_CHECKS

    caught = {check for checks, *_rest in DEFECTS.values() for check in checks.split()}
    checks = matrix_checks(clean_runs)
    assert set(PAYMENT_CHECKS) <= checks
    assert checks - NOT_APPLICABLE <= caught, sorted(checks - NOT_APPLICABLE - caught)
    assert not NOT_APPLICABLE & caught
    for _code, out, data in clean_runs.values():
        assert set(data["not_applicable"]) == NOT_APPLICABLE
        matrix = (out / "contract-summary.md").read_text("utf-8")
        assert "| n/a |" in matrix


def assert_caught(
    sim: SimulatorProcess,
    out: Path,
    api: str,
    defects: dict[str, tuple[str, str, str, tuple[str, ...]]],
    defect: str,
) -> None:
    """Run the contract suite of ``api`` with ``defect`` on, narrowed as ``defects`` says: it
    fails (exit 1) and each of the defect's checks is among the failed ones."""
    catalog = requests.get(f"{sim.url}/_sim/defects", timeout=10).json()["catalog"]
    assert defect in catalog, f"the simulator has no defect {defect}"
    checks, level, select, operations = defects[defect]
    switch(sim, defect)
    try:
        code = run_contract(
            settings(sim),
            api,
            level,
            "default",
            out,
            operations=operations,
            select=select,
            in_process=True,
        )
    finally:
        switch(sim, None)
    failed = summary(out, api)["failed_checks"]
    for check in checks.split():
        assert check in failed, f"{defect}: expected {check} to fail, failed: {failed}"
    assert code == 1


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_is_caught_by_its_check(sim: SimulatorProcess, tmp_path: Path, defect: str) -> None:
    assert_caught(sim, tmp_path, API, DEFECTS, defect)
