"""pytest plugin shared by every suite: target options and the session's ``target`` fixture.

With no ``--target-url`` the bundled simulator is started on a free port for the session.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from harness import patience
from harness.preflight import PreflightError, preflight
from harness.promises import claims, why_not_exercised
from harness.simproc import SimulatorProcess
from harness.target import OPTIONS, Target, collect_settings, make_target

EXIT_UNREACHABLE = 3
EXIT_CONFIG = 4


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paysim", "paysim target (each also reads PAYSIM_<NAME>)")
    for opt in OPTIONS:
        group.addoption(
            opt.flag, dest=f"paysim_{opt.name}", default=None, help=f"{opt.help} [env {opt.env}]"
        )


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The implementation under test, checked once to be reachable with the credentials."""
    config = request.config
    try:
        settings = collect_settings(lambda name: config.getoption(f"paysim_{name}"))
    except (OSError, ValueError) as exc:
        pytest.exit(f"paysim: bad configuration: {exc}", returncode=EXIT_CONFIG)
    sim: SimulatorProcess | None = None
    if not settings.get("target_url"):
        sim = SimulatorProcess().start()
    try:
        try:
            tgt = make_target(settings, bundled_url=sim.url if sim else None)
        except ValueError as exc:
            pytest.exit(f"paysim: bad configuration: {exc}", returncode=EXIT_CONFIG)
        try:
            preflight(tgt)
        except PreflightError as exc:
            pytest.exit(f"paysim: {exc}", returncode=EXIT_UNREACHABLE)
        yield tgt
    finally:
        if sim:
            sim.close()


CLAIMS_KEY = pytest.StashKey[dict[str, dict[str, list[str]]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "proves(*ids): the seed promises this test proves (harness/promises)"
    )
    config.stash[CLAIMS_KEY] = {}


def _api_of(item: pytest.Item) -> str:
    api = getattr(item, "api", "")
    return api or item.path.stem.removeprefix("test_contract_")


def _proves(item: pytest.Item) -> list[str]:
    ids = list(getattr(item, "proves", ()))
    ids += [str(i) for mark in item.iter_markers("proves") for i in mark.args]
    return list(dict.fromkeys(ids))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test's promises go into its JUnit case (``proves``, ids joined by ``;``); every
    collected test's claims, selected or not, are kept for the coverage map."""
    claims = config.stash[CLAIMS_KEY]
    for item in items:
        ids = _proves(item)
        if not ids:
            continue
        item.user_properties.append(("proves", ";".join(ids)))
        for pid in ids:
            claims.setdefault(_api_of(item), {}).setdefault(pid, []).append(item.name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skip that says its category records it in the test's JUnit case (``not_exercised``)."""
    report = yield
    why = why_not_exercised(call.excinfo.value) if call.excinfo is not None else None
    if why is not None:
        item.user_properties.append(("not_exercised", why.name))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Record beside the run's report the time this run spent waiting out 429s, and what
    every collected test claims to prove."""
    config = session.config
    for name in ("scenario_report", "contract_report"):
        directory = config.getoption(name, default=None)
        if directory:
            patience.write(Path(directory))
            claims.write(Path(directory), config.stash.get(CLAIMS_KEY, {}))
            return
