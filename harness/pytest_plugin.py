"""pytest plugin shared by every suite: target options and the session's ``target`` fixture.

With no ``--target-url`` the bundled simulator is started on a free port for the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import patience
from harness.preflight import PreflightError, preflight
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Record the time this run spent waiting out 429s beside the run's report."""
    config = session.config
    for name in ("scenario_report", "contract_report"):
        directory = config.getoption(name, default=None)
        if directory:
            patience.write(Path(directory))
            return
