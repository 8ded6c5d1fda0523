"""Run the contract suite from Python: the pytest invocation, in this process or a child.

``run_contract`` is what a command (``paysim conform``) or a test calls; it returns pytest's
exit code: 0 every check held, 1 a check failed, 3 target unreachable or credentials rejected,
4 bad configuration, 5 nothing selected. The same run from a shell::

    pytest harness/contract --api freefin --contract-level strict --contract-profile default \\
        --contract-report DIR --junitxml DIR/junit.xml [--target-url URL ...]

Target settings (``harness.target.OPTIONS``: URL, keys, secrets) reach a child process through
its ``PAYSIM_*`` environment, never its command line, so that secrets stay out of process lists.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from harness.level import Level
from harness.target import OPTIONS

ROOT = Path(__file__).resolve().parent.parent.parent
SUITES = {
    api: ROOT / "harness" / "contract" / f"test_contract_{api}.py" for api in ("freefin", "kaspi")
}
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
    if api not in ("freefin", "kaspi", "both"):
        raise ValueError(f"api must be freefin, kaspi or both, not {api!r}")
    suites = [str(SUITES[a]) for a in (("freefin", "kaspi") if api == "both" else (api,))]
    args = [
        *suites,
        "--rootdir",
        str(ROOT),
        "-p",
        "no:cacheprovider",
        "-q",
        "--api",
        api,
        "--contract-level",
        Level.of(level).value,
        "--contract-profile",
        profile,
    ]
    if report_dir is not None:
        args += ["--contract-report", str(report_dir)]
    if junit_xml is not None:
        args += [f"--junitxml={junit_xml}"]
    for operation in operations:
        args += ["--contract-operation", operation]
    if select:
        args += ["-k", select]
    return args


def _environment(settings: Mapping[str, str]) -> dict[str, str]:
    known = {opt.name: opt.env for opt in OPTIONS}
    unknown = set(settings) - set(known)
    if unknown:
        raise ValueError(f"unknown target settings {sorted(unknown)}")
    return {known[name]: str(value) for name, value in settings.items() if value}


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
    env = _environment(target or {})
    if not in_process:
        # PYTHONPATH: this checkout's harness, whatever an editable install points at.
        child_env = {
            **os.environ,
            **env,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
        return subprocess.call(
            [sys.executable, "-m", "pytest", *args], cwd=ROOT, env=child_env, timeout=RUN_TIMEOUT_S
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
