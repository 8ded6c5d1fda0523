"""Read a finished run's result files into one :class:`RunResults`.

A run's report directory (written by ``paysim conform`` and ``paysim load --report-dir``):

- ``pytest-junit.xml``: pytest's JUnit XML of the contract and scenario suites;
- ``contract-summary.json``: the contract suite's operation x check results and spec gaps;
- ``scenario-summary.json``: each scenario's outcome (optional: the JUnit XML has the rest);
- ``load/``: a load run folder (``thresholds.json``, ``stats_stats.csv``,
  ``stats_stats_history.csv``, ``stats_failures.csv``), optional;
- ``run.json``: what was run, against what, when, and the exit code (optional);
- ``patience.json``: the time the run spent waiting out the target's 429s (optional);
- ``claims.json``: the seed promises each collected test claims to prove (optional).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness import patience
from harness.promises import claims

PYTEST_JUNIT = "pytest-junit.xml"
CONTRACT_JSON = "contract-summary.json"
CONTRACT_JUNIT = "contract-junit.xml"
SCENARIO_JSON = "scenario-summary.json"
RUN_JSON = "run.json"
LOAD_DIR = "load"


@dataclasses.dataclass
class Case:
    """One test case of pytest's JUnit XML, placed in a suite."""

    suite: str
    kind: str  # contract | scenarios | other
    api: str
    name: str
    outcome: str  # passed | failed | error | skipped
    seconds: float
    message: str = ""
    text: str = ""
    # the case's JUnit properties: proves (promise ids joined by ";"), not_exercised (a Why)
    properties: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "error")


@dataclasses.dataclass
class Failure:
    """A failure as the report shows it: what, why, the request as curl, the answer."""

    suite: str
    name: str
    title: str
    message: str
    curl: str = ""
    response: str = ""


@dataclasses.dataclass
class LoadRun:
    """A finished load run: its verdict, per-operation table, history and failures."""

    folder: str
    profile: str
    passed: bool
    observed: dict[str, Any]
    checks: list[dict[str, Any]]
    stats: list[dict[str, str]]
    history: list[dict[str, float | None]]
    failures: list[dict[str, str]]
    windows: list[dict[str, float | None]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class RunResults:
    """Everything a report is made from."""

    meta: dict[str, Any]
    cases: list[Case]
    contract: dict[str, Any]
    scenarios: list[dict[str, Any]]
    load: LoadRun | None
    gaps: list[dict[str, Any]]
    waits: dict[str, Any] = dataclasses.field(default_factory=dict)
    # api -> promise id -> the collected tests that claim it (claims.json)
    claims: dict[str, dict[str, list[str]]] = dataclasses.field(default_factory=dict)

    def suites(self) -> dict[str, list[Case]]:
        """The pytest cases by suite, in a stable order: contract, scenarios, other."""
        order = {"contract": 0, "scenarios": 1, "other": 2}
        grouped: dict[str, list[Case]] = {}
        for case in sorted(self.cases, key=lambda c: (order[c.kind], c.suite)):
            grouped.setdefault(case.suite, []).append(case)
        return grouped


def classify(classname: str, name: str) -> tuple[str, str, str]:
    """(kind, api, suite) of a pytest test case from its JUnit classname."""
    parts = classname.split(".")
    if "contract" in parts:
        api = next(
            (p.removeprefix("test_contract_") for p in parts if p.startswith("test_contract_")), ""
        )
        return "contract", api, f"contract {api}".strip()
    # scenarios.<api>.<topic>.yaml from a checkout, paysim.scenarios.… from an installed wheel
    at = parts.index("scenarios") if "scenarios" in parts[:2] else -1
    if at >= 0 and len(parts) >= at + 3:
        api, topic = parts[at + 1], parts[at + 2]
        return "scenarios", api, f"scenarios {api}/{topic}"
    return "other", "", classname or name


def read_pytest_junit(path: Path) -> list[Case]:
    """Cases of pytest's JUnit XML (empty when the file is absent)."""
    if not path.exists():
        return []
    cases = []
    for node in ET.parse(path).getroot().iter("testcase"):
        if node.get("name") is None:
            continue  # subtest bookkeeping records
        kind, api, suite = classify(node.get("classname", ""), node.get("name", ""))
        outcome, message, text = "passed", "", ""
        properties = {
            p.get("name", ""): p.get("value", "") for p in node.iter("property") if p.get("name")
        }
        for child in node:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message, text = child.get("message", ""), child.text or ""
                if outcome != "skipped":
                    break
        cases.append(
            Case(
                suite,
                kind,
                api,
                node.get("name", ""),
                outcome,
                float(node.get("time") or 0),
                message,
                text,
                properties,
            )
        )
    return cases


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # Locust writes N/A before the first response


def read_history(path: Path) -> list[dict[str, float | None]]:
    """The run's aggregated figures per second from Locust's ``stats_stats_history.csv``."""
    if not path.exists():
        return []
    rows: list[dict[str, float | None]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for line in csv.DictReader(fh):
            if line.get("Name") != "Aggregated":
                continue
            rows.append(
                {
                    "t": _number(line["Timestamp"]),
                    "users": _number(line["User Count"]),
                    "rps": _number(line["Requests/s"]),
                    "fps": _number(line["Failures/s"]),
                    "p50": _number(line["50%"]),
                    "p95": _number(line["95%"]),
                    "p99": _number(line["99%"]),
                    "requests": _number(line["Total Request Count"]),
                }
            )
    start = next((r["t"] for r in rows if r["t"] is not None), 0.0) or 0.0
    for entry in rows:
        entry["t"] = (entry["t"] or start) - start
    return rows


def read_windows(path: Path) -> list[dict[str, float | None]]:
    """p50/p95/p99 per window of the run (``latency_windows.csv``, loadtests/windows.py)."""
    return [{k: _number(v) for k, v in row.items()} for row in _read_csv(path)]


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_load(folder: Path) -> LoadRun | None:
    """A load run folder (None when it holds no verdict)."""
    verdict = _read_json(folder / "thresholds.json")
    if verdict is None:
        return None
    return LoadRun(
        folder=str(folder),
        profile=verdict.get("profile", ""),
        passed=bool(verdict.get("passed")),
        observed=verdict.get("observed", {}),
        checks=verdict.get("checks", []),
        stats=_read_csv(folder / "stats_stats.csv"),
        history=read_history(folder / "stats_stats_history.csv"),
        failures=_read_csv(folder / "stats_failures.csv"),
        windows=read_windows(folder / "latency_windows.csv"),
    )


def read_results(
    directory: Path, load_dir: Path | None = None, gaps: list[dict[str, Any]] | None = None
) -> RunResults:
    """Everything in a report directory; ``load_dir`` overrides ``<directory>/load``."""
    contract = _read_json(directory / CONTRACT_JSON) or {}
    scenarios = (_read_json(directory / SCENARIO_JSON) or {}).get("results", [])
    load_folder = load_dir or directory / LOAD_DIR
    return RunResults(
        meta=_read_json(directory / RUN_JSON) or {},
        cases=read_pytest_junit(directory / PYTEST_JUNIT),
        contract=contract.get("apis", {}),
        scenarios=scenarios,
        load=read_load(load_folder) if load_folder.is_dir() else None,
        gaps=gaps or [],
        waits=patience.read(directory),
        claims=claims.read(directory),
    )


_SECTION = re.compile(r"^(request|received):\s*$", re.MULTILINE)


def scenario_failure(case: Case) -> Failure:
    """A scenario failure split into problem, curl and response (the runner's layout:
    ``failed at step``, problems, ``request:`` then the curl, ``received:`` then the answer)."""
    text = case.text or case.message
    parts = _SECTION.split(text)
    head, sections = parts[0], dict(zip(parts[1::2], parts[2::2], strict=False))
    lines = head.strip().splitlines()
    title = lines[0] if lines else case.name
    title = re.sub(r"^scenario '.*?' \(.*?\) ", "", title)
    return Failure(
        case.suite,
        case.name,
        title,
        "\n".join(ln.strip() for ln in lines[1:]),
        _dedent(sections.get("request", "")),
        _dedent(sections.get("received", "")),
    )


def case_failure(case: Case) -> Failure:
    """A failed pytest case (a contract probe or anything else): its message and text."""
    message = case.message.strip()
    if not message and case.text.strip():
        message = case.text.strip().splitlines()[-1]
    return Failure(
        case.suite,
        case.name,
        message.splitlines()[0] if message else case.outcome,
        message,
        response=_assertion_lines(case.text),
    )


def _assertion_lines(text: str) -> str:
    """The ``E`` lines of a pytest traceback (what was asserted), without the code around it."""
    lines = [ln[1:].strip("\n") for ln in text.splitlines() if ln.startswith("E ")]
    return "\n".join(ln[3:] if ln.startswith("   ") else ln for ln in lines)


def contract_failures(contract: dict[str, Any]) -> list[Failure]:
    """Each failed check of the contract run, with its curl and the answer received."""
    found = []
    for api, data in contract.items():
        for row in data.get("results", []):
            for failure in row.get("failures", []):
                message, _sep, answer = failure.get("message", "").partition("\nanswer: ")
                found.append(
                    Failure(
                        f"contract {api}",
                        f"{row['operation']} [{row['check']}]",
                        failure.get("title", ""),
                        message.strip(),
                        failure.get("curl", ""),
                        answer.strip(),
                    )
                )
    return found


def _dedent(block: str) -> str:
    lines = block.strip("\n").splitlines()
    return "\n".join(ln[2:] if ln.startswith("  ") else ln for ln in lines).strip()
