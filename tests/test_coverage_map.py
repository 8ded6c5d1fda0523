"""The coverage map: what each seed promises, and what a run proved of it, failed, or did not
exercise and why. Nothing that did not run counts as proved."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.promises import Why, catalogue, coverage
from harness.promises.coverage import FAILED, NOT_EXERCISED, PROVED
from harness.report.results import Case
from harness.scenarios import loader
from harness.scenarios.provenance import document

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_every_documented_status_of_every_operation_is_a_promise(api: str) -> None:
    seed = document(api, "seed")
    documented = {
        f"{method.upper()} {path} {status}"
        for path, item in seed["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
        for status in op["responses"]
    }
    promises = catalogue(api)
    assert {p.id for p in promises.values() if p.kind == "operation"} == documented
    assert {"transition", "behaviour"} <= {p.kind for p in promises.values()}


def test_a_scenario_naming_an_unknown_promise_is_refused() -> None:
    text = """
name: x
api: kaspi
proves: [refund.teleports]
from: "seed#/paths"
steps:
  - request: {method: GET, path: /v1/me}
    expect: {status: 200}
"""
    with pytest.raises(loader.ScenarioFormatError, match=r"refund\.teleports"):
        loader.load_text(text, Path("inline.yaml"))


def test_a_scenario_claims_what_it_names_and_the_seed_statuses_it_asserts() -> None:
    text = """
name: x
api: kaspi
proves: [audit.payment_actions]
from: "seed#/paths"
steps:
  - request: {method: POST, path: /v1/invoices, json: {amount: 1}}
    expect: {from: "seed: POST /v1/invoices 201", status: 201}
  - request: {method: GET, path: /v1/invoices/x}
    expect: {from: "seed: GET /v1/invoices/{id} 404", status: 200}
"""
    scenario = loader.load_text(text, Path("inline.yaml"))[0]
    # The second block names a 404 but asserts 200: it proves nothing about the 404.
    assert loader.claims(scenario) == ["audit.payment_actions", "POST /v1/invoices 201"]


def _case(name: str, outcome: str, proves: str, why: str = "") -> Case:
    props = {"proves": proves, **({"not_exercised": why} if why else {})}
    return Case("scenarios kaspi/x", "scenarios", "kaspi", name, outcome, 0.1, properties=props)


def _entry(result: dict, pid: str) -> dict:
    return next(e for e in result["kaspi"]["entries"] if e["id"] == pid)


def test_each_promise_is_proved_failed_or_not_exercised_with_its_reason() -> None:
    cases = [
        _case("passes", "passed", "refund.qr;sandbox.simulate"),
        _case("fails", "failed", "sandbox.simulate"),
        _case("needs a hook", "skipped", "refund.only_paid", Why.OUTCOME_HOOK.name),
        # passed, but a seed-backed step of it did not run: not proved
        _case("partly", "passed", "webhooks.test", Why.TARGET.name),
    ]
    contract = {
        "statuses": {"GET /v1/me": {"200": 3}, "POST /v1/invoices": {"201": 2}},
        "results": [{"operation": "POST /v1/invoices", "check": "not_a_server_error", "failed": 1}],
    }
    claims = {"kaspi": {"deliveries.retry": ["a deselected scenario"]}}
    result = coverage.build(["kaspi"], cases, {"kaspi": contract}, claims)
    assert _entry(result, "refund.qr")["status"] == PROVED
    assert _entry(result, "sandbox.simulate")["status"] == FAILED  # any failure wins
    hook = _entry(result, "refund.only_paid")
    assert (hook["status"], hook["why"]) == (NOT_EXERCISED, "OUTCOME_HOOK")
    assert _entry(result, "webhooks.test")["status"] == NOT_EXERCISED
    assert _entry(result, "GET /v1/me 200")["status"] == PROVED
    assert _entry(result, "POST /v1/invoices 201")["status"] == FAILED
    assert _entry(result, "GET /v1/me 200")["by"] == ["contract suite"]
    assert _entry(result, "deliveries.retry")["why"] == "NOT_SELECTED"
    assert _entry(result, "audit.payment_actions")["why"] == "NO_CHECK"
    # An operation's status the contract suite never saw is not proved by it.
    assert _entry(result, "GET /v1/invoices/{id} 404")["status"] == NOT_EXERCISED
    data = result["kaspi"]
    assert data["proved"] + data["failed"] + data["not_exercised"] == data["total"]
    assert data["reasons"][Why.OUTCOME_HOOK.value] == 1
    line = coverage.line(result)
    assert line.startswith(f"seed promises proved: kaspi {data['proved']} of {data['total']}")
    assert "1 needs an outcome hook" in line and "1 failed" not in line
    assert coverage.shortfall(result, {"*": 99}) and not coverage.shortfall(result, {"*": 1})
    assert coverage.shortfall(result, {"freefin": 99}) == []


def test_with_no_contract_run_an_operation_status_is_not_selected() -> None:
    result = coverage.build(["kaspi"], [], {}, {})
    assert _entry(result, "GET /v1/me 200")["why"] == "NOT_SELECTED"


@pytest.mark.slow
@pytest.mark.server
def test_a_run_reports_its_coverage_and_fails_a_required_share(tmp_path: Path) -> None:
    """A narrow run on the bundled simulator: the promise its one scenario proves is proved,
    what the contract suite would prove is not selected, and --require-coverage fails it."""
    report = tmp_path / "report"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "paysim",
            "conform",
            "--api",
            "kaspi",
            "--suite",
            "scenarios",
            "-k",
            "audit",
            "--require-coverage",
            "kaspi=50",
            "--report-dir",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 5, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "--require-coverage asks 50%" in proc.stderr
    assert "seed promises proved: kaspi " in proc.stdout
    summary = json.loads((report / "summary.json").read_text())
    assert summary["verdict"] == "failed" and summary["exit_code"] == 5
    entries = {e["id"]: e for e in summary["coverage"]["kaspi"]["entries"]}
    assert entries["audit.payment_actions"]["status"] == PROVED
    assert entries["POST /v1/invoices 201"]["status"] == PROVED  # asserted by the scenario
    assert entries["GET /v1/me 200"]["why"] == "NOT_SELECTED"
    assert entries["deliveries.retry"]["why"] == "NOT_SELECTED"  # collected, deselected by -k
    junit = ET.parse(report / "junit.xml").getroot()
    figures = {p.get("name"): p.get("value") for p in junit.find("properties") or []}
    proved = summary["coverage"]["kaspi"]["proved"]
    assert figures["seed_promises.kaspi"].startswith(
        f"proved {proved} of {len(catalogue('kaspi'))}"
    )
    case = next(c for c in junit.iter("testcase") if "audit" in (c.get("name") or ""))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert "audit.payment_actions" in props["proves"].split(";")
    page = (report / "report.html").read_text()
    assert page.index("What the run proved of the seeds") < page.index('id="suites"')
    assert "audit.payment_actions" in page and "not selected in this run" in page
