"""paysim as a user installs it: the wheel built from the sdist, installed with its pinned
dependencies into a fresh virtualenv outside this checkout, run from an empty folder.

Nothing of this checkout is on the installed tool's path: the packages and every document come
from the wheel alone, the dependencies from the package index pip is configured with.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness import processes
from harness.simproc import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("install"),  # one build, one install
    pytest.mark.timeout(600),
]

REPO = Path(__file__).resolve().parent.parent
CODE = ("simulator", "harness", "loadtests", "paysim")
DOCUMENTS = {"specs": "paysim/specs", "scenarios": "paysim/scenarios"}
KEY_A1 = "sk_test_rom001_Jq7Zt2xVw9LmN4pR"


class Installed:
    """The built distributions and the virtualenv the wheel is installed into."""

    def __init__(self, root: Path) -> None:
        self.dist = root / "dist"
        self.venv = root / "venv"
        self.work = root / "work"  # an empty folder, far from the checkout
        self.build_log = ""

    @property
    def wheel(self) -> Path:
        return next(self.dist.glob("paysim-*.whl"))

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self) -> dict[str, str]:
        """The user's environment: nothing points back at this checkout or its virtualenv."""
        drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in drop and not (k.startswith("PAYSIM_") and k != "PAYSIM_STATE_DIR")
        }
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), "/usr/bin", "/bin"])
        return env

    def run(self, *cmd: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cmd,
            cwd=self.work,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _tracked(*folders: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", *folders], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def _clone(into: Path) -> Path:
    """The checkout's files as a fresh clone has them: no build leftovers (an egg-info's file
    list would otherwise stand in for what the configuration ships)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    inst = Installed(tmp_path_factory.mktemp("install"))
    inst.work.mkdir()
    clone = _clone(tmp_path_factory.mktemp("clone"))
    # The sdist first, then the wheel built from it: both carry what the tool needs.
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(inst.dist), str(clone)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    subprocess.run([sys.executable, "-m", "venv", str(inst.venv)], check=True, timeout=120)
    python = inst.bin("python")
    pip = inst.run(python, "-m", "pip", "install", "--quiet", str(inst.wheel), timeout=600)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    inst.build_log = build.stdout + build.stderr
    return inst


def test_the_build_says_nothing_deprecated(installed: Installed) -> None:
    log = installed.build_log
    assert "SetuptoolsDeprecationWarning" not in log and "deprecated" not in log.lower(), log


def test_the_wheel_carries_every_file_the_tool_reads(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = set(whl.namelist())
    wanted = [p for p in _tracked(*CODE) if "/tests/" not in p]
    for folder, inside in DOCUMENTS.items():
        wanted += [
            inside + p.removeprefix(folder)
            for p in _tracked(folder)
            if p.endswith((".yaml", ".json", ".py"))
        ]
    assert wanted and [p for p in wanted if p not in names] == []
    # Of the project's own, only the tool: no tests, benchmarks or examples.
    assert not any(n.startswith(("tests/", "benchmarks/", "examples/")) for n in names)


def test_the_installed_tool_reads_its_documents_from_the_install(installed: Installed) -> None:
    done = installed.run(
        installed.bin("python"),
        "-c",
        "import harness, paysim.documents as d; print(d.SPECS); print(d.SCENARIOS); "
        "print(d.DEFAULT_SEED); print(harness.__file__)",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert len(lines) == 4 and Path(lines[2]).is_file()
    for line in lines:
        assert Path(line).is_relative_to(installed.venv), done.stdout


MINE = """
name: the SBP bank directory answers
api: freefin
from: "seed#/paths"
steps:
  - request: {method: GET, path: /api/v1/public/banks/sbp}
    expect: {status: 200}
"""


def test_installed_conform_runs_the_bundled_scenarios(installed: Installed) -> None:
    started = time.monotonic()
    done = installed.run(
        installed.bin("paysim"), "conform", "--api", "freefin", "--suite", "scenarios",
        "--report-dir", "out",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"installed conform --api freefin --suite scenarios: {elapsed:.1f} s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "PASSED" in done.stdout and " 0 failed" in done.stdout
    # the suites are named as from a checkout
    assert re.search(r"^scenarios freefin/refunds +[1-9]", done.stdout, re.M), done.stdout
    assert (installed.work / "out" / "report.html").is_file()


def test_installed_conform_runs_a_folder_of_ones_own(installed: Installed) -> None:
    mine = installed.work / "mine"
    mine.mkdir()
    (mine / "directory.yaml").write_text(MINE, encoding="utf-8")
    done = installed.run(
        installed.bin("paysim"), "conform", "--api", "freefin", "--suite", "scenarios",
        "--scenarios", "mine", "-k", "directory", "--report-dir", "mine-out",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"^directory\.yaml +1 +0 +0 ", done.stdout, re.M), done.stdout


def test_installed_pytest_takes_the_suites_options(installed: Installed) -> None:
    done = installed.run(installed.bin("python"), "-m", "pytest", "--help")
    assert done.returncode == 0, done.stderr
    for option in ("--target-url", "--contract-profile", "--scenario-report", "--scenarios"):
        assert option in done.stdout


@pytest.fixture
def served(installed: Installed) -> Iterator[str]:
    port = free_port()
    with open(installed.work / "serve.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [installed.bin("paysim"), "serve", "--port", str(port), "--db", ":memory:"],
            cwd=installed.work,
            env=installed.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            assert proc.poll() is None and time.monotonic() < deadline, (
                installed.work / "serve.log"
            ).read_text()
            time.sleep(0.2)
        yield url
    finally:
        processes.end(proc, grace=30)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/_sim/health", timeout=2).ok
    except requests.RequestException:
        return False


def test_installed_serve_answers_a_create_with_201(installed: Installed, served: str) -> None:
    resp = requests.post(
        f"{served}/api/v1/public/payments",
        headers={"Authorization": f"Bearer {KEY_A1}", "Idempotency-Key": "install-1"},
        json={"amount": 10000, "order_id": "ORDER-1"},
        timeout=10,
    )
    assert resp.status_code == 201, (resp.text, (installed.work / "serve.log").read_text())
    assert resp.json()["payment"]["status"] == "pending"
