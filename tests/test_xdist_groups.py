"""The tests' own scheduling in several processes (tests/conftest.py): the tests of an
``xdist_group`` run in one process, whatever pytest's node ids allow xdist to say of them, and
the tests marked slow are handed out first.

A small project of its own runs in a child pytest on two processes with the project's conftest
as a plugin; each test writes down the process it ran in. Without that plugin, xdist alone
hands the group's first two tests to the two processes (the first of each, in the order
collected) and the slow test, collected last, to neither first: what the first run shows is the
plugin's doing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TESTS = """
import os
from pathlib import Path

import pytest

OUT = Path(__file__).parent / "ran"


def _note(name):
    OUT.mkdir(exist_ok=True)
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(OUT / f"order-{worker}", "a") as order:
        order.write(name + "\\n")


@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("n", range(8))
def test_grouped(n):
    _note(f"grouped-{n}")


@pytest.mark.parametrize("n", range(8))
def test_free(n):
    _note(f"free-{n}")


@pytest.mark.slow
def test_long():
    _note("long")
"""


def _run(project: Path, *plugin: str) -> tuple[dict[str, str], list[str]]:
    """Which process each test ran in, and the tests each process ran first."""
    (project / "test_groups.py").write_text(TESTS, encoding="utf-8")
    (project / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: long\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # xdist alone: the suites' plugins take seconds
    command = [sys.executable, "-m", "pytest", "-p", "xdist", *plugin, "-n", "2", "--dist"]
    command.append("loadgroup")
    done = subprocess.run(
        [*command, "-p", "no:cacheprovider", "-q", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran, first = {}, []
    for order in sorted((project / "ran").iterdir()):
        names = order.read_text().split()
        ran.update(dict.fromkeys(names, order.name))
        first.append(names[0])
    return ran, first


def test_a_group_runs_in_one_process_and_the_slow_go_first(tmp_path: Path) -> None:
    (tmp_path / "with").mkdir()
    ran, first = _run(tmp_path / "with", "-p", "tests.conftest")
    assert len(ran) == 17
    assert len({ran[f"grouped-{n}"] for n in range(8)}) == 1, ran
    assert len(set(ran.values())) == 2, ran  # the free tests still use both processes
    assert "long" in first, first  # collected last, run first
    (tmp_path / "without").mkdir()
    plain, plain_first = _run(tmp_path / "without")
    assert len({plain[f"grouped-{n}"] for n in range(8)}) == 2, plain
    assert "long" not in plain_first, plain_first
