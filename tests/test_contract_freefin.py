"""The contract suite has teeth: against the simulator with one defect on, it fails on the check
that exists to catch that defect; against the clean simulator it passes.

One simulator process for the module; defects are switched through its control API with a
reset in between. Each run of the suite is a separate pytest process (the suite is a pytest
suite with its own plugins and hooks), restricted with ``-k`` to the tests that reach the
defect, so that the whole module stays bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess
from harness.target import bundled_credentials

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SUITE = "harness/contract/test_contract_freefin.py"

# defect -> (check that must fail, tests of the suite that reach it)
DEFECTS: dict[str, tuple[str, str]] = {
    "freefin.undocumented_status": ("status_code_conformance", "cancel"),
    "freefin.wrong_type": ("response_schema_conformance", "idempotent"),
    "freefin.missing_required": ("response_schema_conformance", "idempotent"),
    "freefin.server_error": ("not_a_server_error", "test_operation"),
    "freefin.auth_ignored": ("ignored_auth", "cancel"),
    "freefin.idempotency_duplicate": ("idempotent_replay", "idempotent"),
    "freefin.refund_over_remainder": ("refunds_within_amount", "refunds"),
    "freefin.no_retry_after": ("retry_after_on_429", "rate_limit"),
    "freefin.wrong_error_envelope": ("error_envelope", "cancel"),
    "freefin.negative_data_accepted": ("negative_data_rejection", "test_operation"),
    "freefin.cancel_any_status": ("status_follows_state_machine", "cancel"),
    "freefin.negative_money": ("money_never_negative", "idempotent"),
    "freefin.content_type_wrong": ("content_type_conformance", "cancel"),
    "freefin.resource_unavailable": ("ensure_resource_availability", "stateful"),
    "freefin.isolation_broken": ("merchant_isolation", "cancel"),
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process


def run_suite(sim: SimulatorProcess, out: Path, select: str | None) -> tuple[int, dict[str, Any]]:
    """Run the suite against ``sim`` (as a foreign target); exit code and JSON summary."""
    env = {**os.environ, "PAYSIM_API": "freefin", "PAYSIM_TARGET_URL": sim.url,
           "PAYSIM_CONTROL_URL": f"{sim.url}/_sim", "PAYSIM_CONTRACT_REPORT": str(out)}
    env.update({f"PAYSIM_{k.upper()}": v for k, v in bundled_credentials().items()})
    cmd = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider",
           "-W", "ignore::pytest.PytestUnraisableExceptionWarning"]
    if select:
        cmd += ["-k", select]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    summary_file = out / "contract-summary.json"
    assert summary_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(summary_file.read_text(encoding="utf-8"))


def switch(sim: SimulatorProcess, defect: str | None) -> None:
    requests.post(f"{sim.url}/_sim/reset", timeout=10).raise_for_status()
    if defect:
        resp = requests.post(f"{sim.url}/_sim/defects", json={"enable": [defect]}, timeout=10)
        resp.raise_for_status()


def test_clean_simulator_passes(sim: SimulatorProcess, tmp_path: Path) -> None:
    switch(sim, None)
    code, summary = run_suite(sim, tmp_path, None)
    data = summary["apis"]["freefin"]
    assert data["failed_checks"] == [], json.dumps(data["results"], ensure_ascii=False)[:3000]
    assert data["server_errors"] == 0
    assert code == 0


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_is_caught_by_its_check(
    sim: SimulatorProcess, tmp_path: Path, defect: str
) -> None:
    catalog = requests.get(f"{sim.url}/_sim/defects", timeout=10).json()["catalog"]
    if defect not in catalog:
        pytest.skip(f"the simulator has no defect {defect}")
    check, select = DEFECTS[defect]
    switch(sim, defect)
    try:
        code, summary = run_suite(sim, tmp_path, select)
    finally:
        switch(sim, None)
    failed = summary["apis"]["freefin"]["failed_checks"]
    assert check in failed, f"{defect}: expected {check} to fail, failed: {failed}"
    assert code != 0
