"""The Kaspi contract suite has teeth: against the simulator with one defect on, it fails on
the check that exists to catch that defect; against the clean simulator it passes at both levels.

Same arrangement as the freefin module: one simulator, defects switched through the control
API, each defect's run in this process and narrowed to what reaches it.
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
from tests.test_contract_freefin import (
    NOT_APPLICABLE,
    assert_caught,
    matrix_checks,
    settings,
    summary,
    switch,
)

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(600)]  # whole runs
CLEAN_RUNS = pytest.mark.xdist_group("contract_kaspi_clean_runs")  # computed once

API = "kaspi"

# defect -> (checks that must fail, level, -k expression, operations the run is narrowed to).
# The seed gives most Kaspi responses no schema: a missing field is a strict-level finding.
# At spec, test_operation_positive generates bodies by the supplement's request rules (the
# phone number pattern the seed lacks), so they reach the invoice logic behind that rule.
# Not here: kaspi.simulate_non_sandbox and the webhook defects (the scenario suites' business).
DEFECTS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "kaspi.undocumented_status": ("status_code_conformance", "spec", "cancel", ()),
    "kaspi.wrong_type": ("amount_format response_schema_conformance", "spec", "idempotent", ()),
    "kaspi.amount_format": ("amount_format", "spec", "idempotent", ()),
    # Strict: the seed's Invoice requires no property; only the supplement's requires payment_url.
    "kaspi.missing_required": ("response_schema_conformance", "strict", "idempotent", ()),
    "kaspi.server_error": (
        "not_a_server_error",
        "spec",
        "test_operation",
        ("POST /v1/invoices",),
    ),
    "kaspi.auth_ignored": ("ignored_auth", "spec", "cancel", ()),
    "kaspi.idempotency_duplicate": ("idempotent_replay", "spec", "idempotent", ()),
    "kaspi.refund_over_remainder": ("refunds_within_amount", "spec", "refunds", ()),
    # Strict: only the supplement documents Kaspi's 429 and its required Retry-After.
    "kaspi.no_retry_after": (
        "retry_after_on_429 response_headers_conformance",
        "strict",
        "rate_limit",
        (),
    ),
    "kaspi.wrong_error_envelope": ("error_envelope", "spec", "cancel", ()),
    "kaspi.isolation_broken": ("merchant_isolation", "spec", "cancel", ()),
    "kaspi.cancel_any_status": ("status_follows_state_machine", "spec", "cancel", ()),
    "kaspi.negative_money": ("money_never_negative", "spec", "idempotent", ()),
    # Strict: the phone number pattern is the supplement's; negative cases then keep the rest
    # of the body valid.
    "kaspi.negative_data_accepted": (
        "negative_data_rejection",
        "strict",
        "test_operation",
        ("POST /v1/invoices",),
    ),
    "kaspi.valid_data_refused": (
        "positive_data_acceptance",
        "spec",
        "test_operation",
        ("POST /v1/invoices",),
    ),
    # Strict: the seed's invoice read documents no media type; the supplement's does.
    "kaspi.content_type_wrong": ("content_type_conformance", "strict", "cancel", ()),
    "kaspi.resource_unavailable": (
        "ensure_resource_availability",
        "spec",
        "stateful",
        ("POST /v1/invoices", "GET /v1/invoices/{id}"),
    ),
    "kaspi.method_not_405": (
        "unsupported_method",
        "spec",
        "test_operation",
        ("POST /v1/invoices",),
    ),
    "kaspi.allow_header_wrong": (
        "allow_header_conformance",
        "spec",
        "test_operation",
        ("POST /v1/invoices",),
    ),
}
# NOT_APPLICABLE (shared with the freefin module): neither document has a DELETE operation or a
# required header parameter, and a run has one identity per security scheme.


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process


@pytest.fixture(scope="module")
def clean_runs(
    sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, Path, dict[str, Any]]]:
    """The whole default run against the clean simulator at each level (in this process):
    level -> (exit code, report directory, summary)."""
    runs = {}
    for level in ("spec", "strict"):
        switch(sim, None)
        out = tmp_path_factory.mktemp(f"clean-{API}-{level}")
        code = run_contract(
            settings(sim), API, level, "default", out, junit_xml=out / "junit.xml", in_process=True
        )
        runs[level] = (code, out, summary(out, API))
    return runs


@CLEAN_RUNS
@pytest.mark.parametrize("level", ["spec", "strict"])
def test_clean_simulator_passes(
    clean_runs: dict[str, tuple[int, Path, dict[str, Any]]], level: str
) -> None:
    code, out, data = clean_runs[level]
    assert data["failed_checks"] == [], json.dumps(data["results"], ensure_ascii=False)[:3000]
    assert data["server_errors"] == 0
    assert data["requests"] > 0
    assert code == 0
    assert (out / "junit.xml").exists()


@CLEAN_RUNS
def test_every_check_has_a_defect(clean_runs: dict[str, tuple[int, Path, dict[str, Any]]]) -> None:
    """Every check of the run's matrix has a defect here that must trip it, or cannot apply."""
    caught = {check for checks, *_rest in DEFECTS.values() for check in checks.split()}
    checks = matrix_checks(clean_runs)
    assert checks - NOT_APPLICABLE <= caught, sorted(checks - NOT_APPLICABLE - caught)
    assert not NOT_APPLICABLE & caught
    for _code, _out, data in clean_runs.values():
        assert set(data["not_applicable"]) == NOT_APPLICABLE


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_is_caught_by_its_check(sim: SimulatorProcess, tmp_path: Path, defect: str) -> None:
    assert_caught(sim, tmp_path, API, DEFECTS, defect)


def test_a_documented_502_is_an_answer_not_a_server_error(
    sim: SimulatorProcess, tmp_path: Path
) -> None:
    """The seed documents 502 on invoice creation (Kaspi refused it): an implementation whose
    Kaspi refuses every invoice is conformant, and its 502s are not counted as server errors;
    an undocumented 500 on the same operation still fails (kaspi.server_error, above)."""
    switch(sim, None)
    script = {"outcomes": [{"api": "kaspi", "object": "invoice", "outcome": "refused"}] * 500}
    requests.post(f"{sim.url}/_sim/script", json=script, timeout=10).raise_for_status()
    try:
        code = run_contract(
            settings(sim),
            API,
            "spec",
            "default",
            tmp_path,
            operations=("POST /v1/invoices",),
            select="test_operation",
            in_process=True,
        )
        left = len(requests.get(f"{sim.url}/_sim/outcomes", timeout=10).json()["queued"])
    finally:
        switch(sim, None)
    data = summary(tmp_path, API)
    assert left < 500, "no invoice was refused: the test proves nothing"
    assert data["failed_checks"] == [], data["results"]
    assert data["server_errors"] == 0
    assert code == 0
