"""pytest plugin of the contract suite: its options, fixtures and end-of-run summary.

Options (each also read from the environment):

- ``--contract-profile default|deep`` (PAYSIM_CONTRACT_PROFILE): bounded and deterministic
  by default; ``deep`` for nightly runs;
- ``--contract-report DIR`` (PAYSIM_CONTRACT_REPORT): writes contract-summary.md (operation x
  check matrix, failures with curl, spec gaps apart), contract-summary.json and
  contract-junit.xml (a test case per operation and check) there;
- ``--contract-operation OP`` (repeatable; PAYSIM_CONTRACT_OPERATIONS, comma-separated): test
  only these operations, by operationId or "METHOD path" (Kaspi has no operationIds).

The level (``--contract-level spec|strict``), the API (``--api``) and the target come from the
harness's target options. pytest's own ``--junitxml`` gives the tests' outcomes. From Python:
:func:`harness.contract.run.run_contract`.

Compatibility shim: schemathesis 4.32's ``from_fixture`` reads ``node._nodeid``, which pytest 9
removed; ``pytest_runtest_setup`` below sets it on the suites' items. Drop it when schemathesis
stops reading it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from harness.contract import hooks  # noqa: F401  (registers the recording hooks)
from harness.contract.context import RunContext
from harness.contract.loader import PROFILES
from harness.contract.record import Report
from harness.contract.suite import open_run
from harness.target import Target

REPORT_KEY = pytest.StashKey[Report]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paysim-contract", "paysim contract suite")
    group.addoption(
        "--contract-profile",
        dest="contract_profile",
        default=None,
        choices=sorted(PROFILES),
        help="default (bounded, deterministic) or deep (nightly) [env PAYSIM_CONTRACT_PROFILE]",
    )
    group.addoption(
        "--contract-report",
        dest="contract_report",
        default=None,
        help="directory for contract-summary.md/.json [env PAYSIM_CONTRACT_REPORT]",
    )
    group.addoption(
        "--contract-operation",
        dest="contract_operations",
        action="append",
        default=None,
        metavar="OP",
        help="test only this operation (operationId or 'METHOD /path'); repeatable "
        "[env PAYSIM_CONTRACT_OPERATIONS, comma-separated]",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = Report()


def contract_operations(config: pytest.Config) -> set[str]:
    """The operations chosen for this run (empty: all of them)."""
    chosen = config.getoption("contract_operations") or []
    if not chosen:
        chosen = os.environ.get("PAYSIM_CONTRACT_OPERATIONS", "").split(",")
    return {value.strip() for value in chosen if value.strip()}


def _is_chosen(operation: Any, chosen: set[str]) -> bool:
    return (
        not chosen
        or operation.label in chosen
        or (operation.definition.raw.get("operationId") in chosen)
    )


def chosen_operation(ctx: Any) -> bool:
    """Filter for the suites' lazy schemas: whether ``--contract-operation`` keeps an operation.

    ``schemathesis.pytest.from_fixture`` replaces the fixture schema's own filters with the
    lazy schema's, so the suites apply this one there too.
    """
    return not _SESSIONS or _is_chosen(ctx.operation, contract_operations(_SESSIONS[-1]))


def _only(schema: schemathesis.BaseSchema, chosen: set[str]) -> schemathesis.BaseSchema:
    if not chosen:
        return schema
    return schema.include(func=lambda ctx: _is_chosen(ctx.operation, chosen))


def contract_profile(config: pytest.Config) -> str:
    """The generation profile chosen for this run."""
    value = config.getoption("contract_profile") or os.environ.get("PAYSIM_CONTRACT_PROFILE")
    value = value or "default"
    if value not in PROFILES:
        raise pytest.UsageError(f"--contract-profile must be one of {sorted(PROFILES)}")
    return value


@pytest.fixture(scope="session")
def contract_report(request: pytest.FixtureRequest) -> Report:
    """The session's record of check outcomes, requests and spec gaps."""
    return request.config.stash[REPORT_KEY]


def _open(
    request: pytest.FixtureRequest, target: Target, api: str
) -> Iterator[tuple[schemathesis.BaseSchema, RunContext]]:
    if api not in target.apis:
        pytest.skip(f"{api} is not under test (--api {target.api})")
    schema, run = open_run(
        target, api, request.config.stash[REPORT_KEY], contract_profile(request.config)
    )
    yield _only(schema, contract_operations(request.config)), run


@pytest.fixture(scope="session")
def freefin_contract(
    request: pytest.FixtureRequest, target: Target
) -> Iterator[tuple[schemathesis.BaseSchema, RunContext]]:
    """(schema, run) of the freefin API of the target."""
    yield from _open(request, target, "freefin")


@pytest.fixture(scope="session")
def kaspi_contract(
    request: pytest.FixtureRequest, target: Target
) -> Iterator[tuple[schemathesis.BaseSchema, RunContext]]:
    """(schema, run) of the Kaspi API of the target."""
    yield from _open(request, target, "kaspi")


@pytest.fixture(scope="session")
def freefin_schema(
    freefin_contract: tuple[schemathesis.BaseSchema, RunContext],
) -> schemathesis.BaseSchema:
    """The freefin Schemathesis schema (for ``schemathesis.pytest.from_fixture``)."""
    return freefin_contract[0]


@pytest.fixture(scope="session")
def kaspi_schema(
    kaspi_contract: tuple[schemathesis.BaseSchema, RunContext],
) -> schemathesis.BaseSchema:
    """The Kaspi Schemathesis schema (for ``schemathesis.pytest.from_fixture``)."""
    return kaspi_contract[0]


def _positive(
    request: pytest.FixtureRequest, contract: tuple[schemathesis.BaseSchema, RunContext]
) -> schemathesis.BaseSchema:
    schema, run = contract
    if run.chaining_factory is None:
        pytest.skip("strict level: test_operation already generates by the supplement's rules")
    positive = run.chaining_factory().clone(filter_set=schema.filter_set)
    phases = PROFILES[contract_profile(request.config)].get("positive_phases")
    if phases:
        positive.config.phases.update(phases=phases)
    return positive


@pytest.fixture(scope="session")
def freefin_positive_schema(
    request: pytest.FixtureRequest, freefin_contract: tuple[schemathesis.BaseSchema, RunContext]
) -> schemathesis.BaseSchema:
    """Spec level: freefin requests by the supplement's request rules (positive data only),
    answers judged by the seed (for ``schemathesis.pytest.from_fixture``)."""
    return _positive(request, freefin_contract)


@pytest.fixture(scope="session")
def kaspi_positive_schema(
    request: pytest.FixtureRequest, kaspi_contract: tuple[schemathesis.BaseSchema, RunContext]
) -> schemathesis.BaseSchema:
    """Spec level: Kaspi requests by the supplement's request rules (positive data only),
    answers judged by the seed (for ``schemathesis.pytest.from_fixture``)."""
    return _positive(request, kaspi_contract)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # schemathesis 4.32's from_fixture reads and renames `node._nodeid`, which pytest 9 no longer
    # has (it keeps `_id`); give it the attribute so the lazy schema can run. Reporting is
    # unaffected: pytest reads `nodeid` from `_id`.
    if "test_contract_" in item.nodeid and not hasattr(item, "_nodeid"):
        item._nodeid = item.nodeid  # type: ignore[attr-defined]


# The sessions under way, innermost last: a contract run may be started from inside another
# pytest session (the project's defect tests run the suite in-process).
_SESSIONS: list[pytest.Config] = []
# api -> (first start, last stop) of the suite's test phases in the innermost session.
_SPANS = pytest.StashKey[dict[str, tuple[float, float]]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    _SESSIONS.append(session.config)
    session.config.stash[_SPANS] = {}


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _SESSIONS and _SESSIONS[-1] is session.config:
        _SESSIONS.pop()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Wall time per API: from the first phase of its suite's tests to the last (subtest
    # reports overlap their test's, so durations are not summed).
    if not _SESSIONS:
        return
    config = _SESSIONS[-1]
    for api in ("freefin", "kaspi"):
        if f"contract/test_contract_{api}.py" in report.nodeid:
            spans = config.stash[_SPANS]
            start, stop = spans.get(api, (report.start, report.stop))
            spans[api] = (min(start, report.start), max(stop, report.stop))
            config.stash[REPORT_KEY].wall_time[api] = spans[api][1] - spans[api][0]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    record = config.stash[REPORT_KEY]
    if not record.results:
        return
    terminalreporter.section("paysim contract summary")
    terminalreporter.write_line(record.render(full=False))
    directory = config.getoption("contract_report") or os.environ.get("PAYSIM_CONTRACT_REPORT")
    if directory:
        record.write(Path(directory))
        terminalreporter.write_line(f"full summary: {Path(directory) / 'contract-summary.md'}")
