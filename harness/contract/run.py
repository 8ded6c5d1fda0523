"""Run the contract suite from Python: the pytest invocation, in this process or a child.

``run_contract`` is what a command (``paysim conform``) or a test calls; it returns pytest's
exit code: 0 every check held, 1 a check failed, 3 target unreachable or credentials rejected,
4 bad configuration, 5 nothing selected. The same run from a shell::

    pytest harness/contract --api freefin --contract-level strict --contract-profile default \\
        --contract-report DIR --junitxml DIR/junit.xml [--target-url URL ...]

Target settings reach a child process as :mod:`harness.child` says: through its environment.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from harness import child
from harness.level import Level

RUN_TIMEOUT_S = 600


def pytest_args(
    api: str = "both",
    level: str = Level.SPEC,
    profile: str = "default",
    report_dir: Path | str | None = None,
    *,
    junit_xml: Path | str | None = None,
    operations: Iterable[str] = (),
    select: str | None = None,
) -> list[str]:
    """The pytest arguments of a contract run (target settings apart)."""
    args = child.pytest_arguments(
        child.contract_suites(api),
        "--api",
        api,
        "--contract-level",
        Level.of(level).value,
        "--contract-profile",
        profile,
    )
    if report_dir is not None:
        args += ["--contract-report", str(report_dir)]
    if junit_xml is not None:
        args += [f"--junitxml={junit_xml}"]
    for operation in operations:
        args += ["--contract-operation", operation]
    if select:
        args += ["-k", select]
    return args


def run_contract(
    target: Mapping[str, str] | None = None,
    api: str = "both",
    level: str = Level.SPEC,
    profile: str = "default",
    report_dir: Path | str | None = None,
    *,
    junit_xml: Path | str | None = None,
    operations: Iterable[str] = (),
    select: str | None = None,
    in_process: bool = False,
) -> int:
    """Run the contract suite against ``target`` and return pytest's exit code.

    ``target`` holds target settings by option name (``target_url``, ``freefin_key``, ...; see
    ``harness.target.OPTIONS``); None or no ``target_url`` starts the bundled simulator.
    ``operations`` (operationId or "METHOD path") and ``select`` (a ``-k`` expression) narrow
    the run. ``in_process`` runs pytest here (fast, for tests); otherwise in a child process.
    """
    args = pytest_args(
        api, level, profile, report_dir, junit_xml=junit_xml, operations=operations, select=select
    )
    env = child.settings_environment(target or {})
    if not in_process:
        return subprocess.call(
            child.pytest_command(args),
            cwd=child.ROOT,
            env=child.environment(target or {}),
            timeout=RUN_TIMEOUT_S,
        )
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        # A nested run must leave the caller's per-test timeout alarm alone: no timeout of its own.
        return int(pytest.main([*args, "-o", "timeout=0"]))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
