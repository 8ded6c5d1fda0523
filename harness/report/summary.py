"""The machine-readable summary of a run (``summary.json``); the HTML report is drawn from it.

Top level: ``verdict`` (passed | failed), ``exit_code``, ``meta`` (what ran, against what,
when), ``totals``, ``counts`` (passed, failed, skipped per kind: contract checks, contract
tests, scenarios, load thresholds; skipped means not run), ``coverage`` (per API, each promise
of the seed proved, failed or not exercised with the reason: :mod:`harness.promises.coverage`),
``suites`` (per suite: kind, api, passed, failed, skipped, seconds),
``contract`` (per API: requests, operation x check results), ``scenarios`` (per suite, each
scenario with outcome and seconds), ``load`` (profile, verdict, thresholds, per-operation
figures, history), ``failures`` (each with its curl and the response), ``spec_gaps``
(``findings`` of the seed documents, ``observed`` by the contract run), ``departures`` (what
the target settles otherwise than the supplement: informational at level spec),
``rate_limit_waits`` (time spent waiting out the target's 429s). Secrets of the run are
replaced by the environment variables that hold them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.masking import Masker
from harness.promises import coverage
from harness.report.results import (
    Case,
    Failure,
    RunResults,
    case_failure,
    contract_failures,
    scenario_failure,
)

SCHEMA_VERSION = 1


def _counts(cases: list[Case]) -> dict[str, int]:
    out = {"passed": 0, "failed": 0, "skipped": 0}
    for case in cases:
        out["failed" if case.failed else case.outcome] += 1
    return out


def suites(results: RunResults) -> list[dict[str, Any]]:
    """One row per suite: the contract checks (operation x check cells; the spec gaps observed
    are counted apart, as observations, never as skipped), pytest's suites, then the load run's
    thresholds. ``kind`` says what a row counts: contract checks, contract tests, scenarios or
    load thresholds."""
    rows = []
    for api, data in results.contract.items():
        cells = [r for r in data.get("results", []) if r["passed"] or r["failed"]]
        rows.append(
            {
                "suite": f"contract {api} checks",
                "kind": "contract checks",
                "api": api,
                "passed": sum(1 for r in cells if not r["failed"]),
                "failed": sum(1 for r in cells if r["failed"]),
                "skipped": 0,
                "observations": len(data.get("spec_gaps", [])),
                "seconds": data.get("wall_time_s", 0),
            }
        )
    for name, cases in results.suites().items():
        rows.append(
            {
                "suite": name,
                "kind": {"contract": "contract tests"}.get(cases[0].kind, cases[0].kind),
                "api": cases[0].api,
                **_counts(cases),
                "seconds": round(sum(c.seconds for c in cases), 2),
            }
        )
    if results.load is not None:
        checks = results.load.checks
        rows.append(
            {
                "suite": f"load {results.load.profile}",
                "kind": "load thresholds",
                "api": "",
                "passed": sum(1 for c in checks if c.get("held") is True),
                "failed": sum(1 for c in checks if c.get("held") is False),
                "skipped": sum(1 for c in checks if c.get("held") is None),
                "seconds": results.load.observed.get("duration_s", 0),
            }
        )
    return rows


def failures(results: RunResults) -> list[Failure]:
    """Every failure of the run: contract checks, contract probes, scenarios, load thresholds.

    The contract suite's own tests that only restate the check failures (``test_operations_
    conform``, ``test_stateful``) are left out when the check failures are there.
    """
    found = contract_failures(results.contract)
    restating = {"test_operations_conform", "test_stateful"} if found else set()
    for case in results.cases:
        if not case.failed or case.name in restating:
            continue
        found.append(scenario_failure(case) if case.kind == "scenarios" else case_failure(case))
    if results.load is not None:
        for check in results.load.checks:
            if check.get("held") is False:
                found.append(
                    Failure(
                        f"load {results.load.profile}",
                        check["what"],
                        "threshold broken",
                        f"limit {check['limit']}, observed {check['observed']}",
                    )
                )
    return found


def scenarios(results: RunResults) -> dict[str, list[dict[str, Any]]]:
    """Scenarios by suite, each with outcome, seconds and (when not passed) why."""
    seconds = {(r.get("name"), r.get("api")): r.get("seconds") for r in results.scenarios}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for case in results.cases:
        if case.kind != "scenarios":
            continue
        why = ""
        if case.failed:
            why = scenario_failure(case).title
        elif case.outcome == "skipped":
            why = case.message.removeprefix("Skipped: ")
        grouped.setdefault(case.suite, []).append(
            {
                "name": case.name,
                "api": case.api,
                "outcome": case.outcome,
                "seconds": seconds.get((case.name, case.api), case.seconds),
                "why": why,
            }
        )
    return grouped


def departures(results: RunResults) -> list[dict[str, Any]]:
    """Each departure from the supplement a scenario saw (informational at level spec)."""
    return [
        {"scenario": r.get("name"), "api": r.get("api"), "file": r.get("file"), **d}
        for r in results.scenarios
        for d in r.get("departures", [])
    ]


def load(results: RunResults) -> dict[str, Any] | None:
    """The load run: verdict, thresholds, per-operation figures, history, failures."""
    run = results.load
    if run is None:
        return None
    observed = {k: v for k, v in run.observed.items() if k != "operations"}
    return {
        "profile": run.profile,
        "passed": run.passed,
        "folder": run.folder,
        "observed": observed,
        "thresholds": run.checks,
        "operations": run.stats,
        "history": run.history,
        "windows": run.windows,
        "failures": run.failures,
    }


def _apis(results: RunResults) -> list[str]:
    """The APIs the run tested, in a stable order."""
    said = results.meta.get("api")
    if said in ("freefin", "kaspi"):
        return [said]
    if said == "both":
        return ["freefin", "kaspi"]
    seen = set(results.contract) | {c.api for c in results.cases if c.api}
    return [a for a in ("freefin", "kaspi") if a in seen]


def build_summary(results: RunResults, secrets: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The run's summary as a JSON-ready dict."""
    rows = suites(results)
    totals = {k: sum(r[k] for r in rows) for k in ("passed", "failed", "skipped")}
    totals["departures"] = len(departures(results))
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        kind = counts.setdefault(row["kind"], {"passed": 0, "failed": 0, "skipped": 0})
        for key in ("passed", "failed", "skipped"):
            kind[key] += row[key]
    apis = _apis(results)
    covered = coverage.build(apis, results.cases, results.contract, results.claims)
    observed_gaps = [gap for data in results.contract.values() for gap in data.get("spec_gaps", [])]
    meta = dict(results.meta)
    exit_code = meta.get("exit_code")
    failed = totals["failed"] > 0 or (exit_code not in (None, 0))
    summary = {
        "schema_version": SCHEMA_VERSION,
        "verdict": "failed" if failed else "passed",
        "exit_code": exit_code,
        "meta": meta,
        "totals": totals,
        "counts": counts,
        "coverage": covered,
        "suites": rows,
        "contract": results.contract,
        "scenarios": scenarios(results),
        "load": load(results),
        "failures": [dataclasses.asdict(f) for f in failures(results)],
        "spec_gaps": {"findings": results.gaps, "observed": observed_gaps},
        "departures": departures(results),
        "rate_limit_waits": results.waits,
    }
    redact = Masker(secrets or {})
    return dict(redact(summary))
