"""pytest plugin of the contract suite: its options, fixtures and end-of-run summary.

Options (each also read from the environment):

- ``--contract-profile default|deep`` (PAYSIM_CONTRACT_PROFILE): bounded and deterministic
  by default; ``deep`` for nightly runs;
- ``--contract-report DIR`` (PAYSIM_CONTRACT_REPORT): writes contract-summary.md and
  contract-summary.json there.

The level (``--contract-level spec|strict``) and the target come from the harness's target
options. JUnit XML is pytest's own ``--junitxml``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis

from harness.contract.context import RunContext
from harness.contract.loader import PROFILES
from harness.contract.report import Report
from harness.contract.suite import open_run
from harness.target import Target

REPORT_KEY = pytest.StashKey[Report]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paysim-contract", "paysim contract suite")
    group.addoption("--contract-profile", dest="contract_profile", default=None,
                    choices=sorted(PROFILES),
                    help="default (bounded, deterministic) or deep (nightly) "
                         "[env PAYSIM_CONTRACT_PROFILE]")
    group.addoption("--contract-report", dest="contract_report", default=None,
                    help="directory for contract-summary.md/.json [env PAYSIM_CONTRACT_REPORT]")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = Report()


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


def _open(request: pytest.FixtureRequest, target: Target, api: str) -> Iterator[
    tuple[schemathesis.BaseSchema, RunContext]
]:
    if api not in target.apis:
        pytest.skip(f"{api} is not under test (--api {target.api})")
    yield open_run(target, api, request.config.stash[REPORT_KEY],
                   contract_profile(request.config))


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
def freefin_schema(freefin_contract: tuple[schemathesis.BaseSchema, RunContext]) -> (
    schemathesis.BaseSchema
):
    """The freefin Schemathesis schema (for ``schemathesis.pytest.from_fixture``)."""
    return freefin_contract[0]


@pytest.fixture(scope="session")
def kaspi_schema(kaspi_contract: tuple[schemathesis.BaseSchema, RunContext]) -> (
    schemathesis.BaseSchema
):
    """The Kaspi Schemathesis schema (for ``schemathesis.pytest.from_fixture``)."""
    return kaspi_contract[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # schemathesis 4.32's from_fixture reads and renames `node._nodeid`, which pytest 9 no longer
    # has (it keeps `_id`); give it the attribute so the lazy schema can run. Reporting is
    # unaffected: pytest reads `nodeid` from `_id`.
    if "test_contract_" in item.nodeid and not hasattr(item, "_nodeid"):
        item._nodeid = item.nodeid  # type: ignore[attr-defined]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Wall time per API: every phase of the tests of each suite module.
    for api in ("freefin", "kaspi"):
        if f"test_contract_{api}.py" in report.nodeid:
            _current_report().wall_time[api] += report.duration


_SESSION_CONFIG: list[pytest.Config] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _SESSION_CONFIG[:] = [session.config]


def _current_report() -> Report:
    return _SESSION_CONFIG[0].stash[REPORT_KEY]


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
