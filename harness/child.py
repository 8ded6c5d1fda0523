"""A suite or a load generator run in a child process: its command line and its environment.

Target settings (``harness.target.OPTIONS``: URLs, keys, secrets) reach a child through its
``PAYSIM_*`` environment, never its command line, so that secrets stay out of process lists.
This checkout comes first on the child's path, whatever an editable install points at.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.target import OPTIONS

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_SUITES = {
    api: ROOT / "harness" / "contract" / f"test_contract_{api}.py" for api in ("freefin", "kaspi")
}
# An inherited setting a run does not name is left out of a child that takes only what it was
# given (paysim conform); the operations to test are named apart, not a target setting.
KEPT = ("PAYSIM_CONTRACT_OPERATIONS",)


def contract_suites(api: str) -> list[str]:
    """The contract suite files of ``api`` (``both``: the two)."""
    if api not in ("freefin", "kaspi", "both"):
        raise ValueError(f"api must be freefin, kaspi or both, not {api!r}")
    return [str(CONTRACT_SUITES[a]) for a in (("freefin", "kaspi") if api == "both" else (api,))]


def pytest_arguments(paths: Iterable[str | Path], *more: str) -> list[str]:
    """pytest's arguments for ``paths``: rooted in this checkout, no cache, quiet, then ``more``."""
    return [*map(str, paths), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-q", *more]


def pytest_command(arguments: Iterable[str]) -> list[str]:
    """A child pytest of this interpreter with ``arguments``."""
    return [sys.executable, "-m", "pytest", *arguments]


def settings_environment(settings: Mapping[str, Any]) -> dict[str, str]:
    """Settings by option name as their ``PAYSIM_*`` variables (empty ones left out)."""
    known = {opt.name: opt.env for opt in OPTIONS}
    unknown = set(settings) - set(known)
    if unknown:
        raise ValueError(f"unknown target settings {sorted(unknown)}")
    return {known[name]: str(value) for name, value in settings.items() if value not in (None, "")}


def environment(
    settings: Mapping[str, Any], *, only_these: bool = False, **extra: str
) -> dict[str, str]:
    """The child's environment: this one, ``settings`` as ``PAYSIM_*`` over it, this checkout
    first on ``PYTHONPATH``, then ``extra``. ``only_these``: no ``PAYSIM_*`` setting inherited."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not (only_these and name.startswith("PAYSIM_") and name not in KEPT)
    }
    env.update(settings_environment(settings))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    env.update(extra)
    return env
