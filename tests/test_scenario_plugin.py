"""The scenario plugin end to end: a real pytest run collecting YAML files against a server.

Runs pytest in a child process on a temporary project (its own ``scenarios/`` folder and a
conftest naming the two harness plugins), so collection, validation errors, skips, JUnit XML and
the readable failure report are seen as a user sees them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def _miniapp() -> ModuleType:
    name = "scenario_miniapp"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("scenario_fixtures") / "miniapp.py"
        )
        assert spec and spec.loader
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with _miniapp().Server() as srv:
        yield srv.url


GOOD = """
name: replay returns the same payment
api: freefin
from: "seed#/paths"
vars: {key: "{{ $unique }}"}
steps:
  - request: {method: POST, path: /api/v1/public/payments,
              headers: {Idempotency-Key: "{{ key }}"}, json: {amount: 10}}
    expect: {status: 201}
    save: {from: "seed: POST /api/v1/public/payments 201", pid: payment.id}
  - request: {method: POST, path: /api/v1/public/payments,
              headers: {Idempotency-Key: "{{ key }}"}, json: {amount: 10}}
    expect: {status: 200, body: {payment.id: "{{ pid }}"}}
---
name: a wrong expectation fails readably
api: freefin
from: "seed#/paths"
steps:
  - name: create with a typo in the expectation
    request: {method: POST, path: /api/v1/public/payments, json: {amount: 10}}
    expect: {status: 201, body: {payment.amount: 11}}
---
name: merchant B is not configured here
api: freefin
from: "seed#/paths"
steps:
  - request: {method: GET, path: /api/v1/public/banks/sbp, auth: key_b}
"""

BAD = """
name: fine
api: freefin
from: "seed#/paths"
steps:
  - request: {method: GET, path: /api/v1/public/banks/sbp}
---
name: typo in a step
api: freefin
from: "seed#/paths"
steps:
  - request: {metod: GET, path: /api/v1/public/banks/sbp}
"""


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["harness.pytest_plugin", "harness.scenarios.plugin"]\n'
    )
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def _pytest(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-W",
        "error",
        "--strict-markers",
        "--rootdir",
        str(project),
        "-c",
        str(project / "pytest.ini"),
        "-rA",
        "--target-url",
        url,
        "--api",
        "freefin",
        "--freefin-key",
        "sk_a",
        "--control-url",
        url + "/_sim",
        *args,
    ]
    # This checkout's harness, whatever copy the virtualenv's install points at.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    return subprocess.run(
        cmd, cwd=project, capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_collects_runs_skips_and_reports(tmp_path: Path, server_url: str) -> None:
    project = _project(
        tmp_path, {"scenarios/freefin/idem.yaml": GOOD, "other/not_a_scenario.yaml": "just: data\n"}
    )
    junit = project / "junit.xml"
    done = _pytest(
        project, server_url, f"--junitxml={junit}", f"--scenario-report={project / 'report'}"
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 1 passed, 1 skipped" in out
    assert "PASSED scenarios/freefin/idem.yaml::replay returns the same payment" in out
    assert "SKIPPED [1] scenarios/freefin/idem.yaml:23: needs credential key_b" in out
    assert "warning" not in out
    assert "needs credential key_b: the target has no freefin_key_b" in out
    # the readable failure: the step, the request as curl, expected vs received
    assert "failed at step 1 (create with a typo in the expectation)" in out
    assert "body payment.amount: expected 11, got 10" in out
    assert "curl -sS -X POST" in out and "HTTP 201" in out
    assert "Traceback" not in out and "def run(" not in out
    summary = (project / "report" / "scenario-summary.md").read_text()
    assert "3 scenarios: 1 passed, 1 failed, 1 skipped" in summary
    assert (
        "- scenarios/freefin/idem.yaml :: a wrong expectation fails readably: step 1 (create "
        "with a typo in the expectation): body payment.amount: expected 11, got 10"
    ) in summary
    assert "merchant B is not configured here: needs credential key_b" in summary
    assert "paysim scenario summary" in out
    cases = ET.parse(junit).getroot().iter("testcase")
    assert {c.get("name") for c in cases} == {
        "replay returns the same payment",
        "a wrong expectation fails readably",
        "merchant B is not configured here",
    }


def test_a_bad_file_names_the_file_the_document_and_the_key(
    tmp_path: Path, server_url: str
) -> None:
    project = _project(tmp_path, {"scenarios/bad.yaml": BAD})
    done = _pytest(project, server_url, "--collect-only")
    assert done.returncode != 0
    assert (
        "bad.yaml, document 2 ('typo in a step'): at steps[0].request: Additional "
        "properties are not allowed ('metod' was unexpected)"
    ) in done.stdout, done.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)  # three child runs of pytest
def test_a_folder_of_ones_own_is_collected_and_validated_as_the_bundled(
    tmp_path: Path, server_url: str
) -> None:
    # Not named by scenario_dirs: only --scenarios makes its YAML files scenarios.
    project = _project(tmp_path, {"mine/idem.yaml": GOOD, "theirs/bad.yaml": BAD})
    done = _pytest(project, server_url, "--scenarios", "mine", "-k", "replay")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED mine/idem.yaml::replay returns the same payment" in done.stdout
    assert done.stdout.count("PASSED") == 1  # collected once, though also under the rootdir
    bad = _pytest(project, server_url, "--scenarios", "theirs", "--collect-only")
    assert bad.returncode != 0
    assert "bad.yaml, document 2 ('typo in a step')" in bad.stdout, bad.stdout
    missing = _pytest(project, server_url, "--scenarios", "nowhere")
    assert missing.returncode == 4  # pytest's usage error
    assert "--scenarios" in missing.stderr and "not a folder" in missing.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\napi: freefin\nsteps: []\n", "at steps: [] should be non-empty"),
        (
            "name: x\napi: paypal\nsteps: [{clock: {advance: 1}}]\n",
            "at api: 'paypal' is not one of",
        ),
        (
            "name: x\napi: freefin\nsteps: [{clock: {advance: 1}, receiver: {fail: 1}}]\n",
            "at steps[0]: several actions ['clock', 'receiver']",
        ),
        ("name: x\napi: freefin\nsteps: [{save: {a: b}}]\n", "at steps[0]: no action"),
        (
            "name: x\napi: freefin\nsteps: [{request: {method: GET, path: /, auth: key_z}}]\n",
            "at steps[0].request.auth",
        ),
        (
            "name: x\napi: freefin\n"
            "steps: [{request: {method: GET, path: /}, wait: {timeout: 1}}]\n",
            "at steps[0]: 'expect' is a required property",
        ),
        ("- a\n- b\n", "document 1: at (top level): a scenario is a mapping"),
        (
            "name: x\napi: freefin\nsteps: [{clock: {advance: 1}}]\n---\n"
            "name: x\napi: freefin\nsteps: [{clock: {advance: 1}}]\n",
            "duplicate scenario name",
        ),
        ("name: [unclosed\n", "not valid YAML"),
        (
            "name: x\napi: freefin\nsteps: [{clock: {advance: 1}}]\n---\nname: y\napi: freefin\n"
            "steps:\n  - request: {method: GET, path: /}\n    expect:\n      body:\n"
            "        items: {$len: 1}\n        items: {$every: {id: 1}}\n",
            "s.yaml, document 2, line 12: duplicate key 'items'",
        ),
        (
            "name: x\napi: freefin\nname: y\nsteps: [{clock: {advance: 1}}]\n",
            "document 1, line 3: duplicate key 'name'",
        ),
    ],
)
def test_schema_errors_are_specific(tmp_path: Path, text: str, message: str) -> None:
    from harness.scenarios.loader import ScenarioFormatError, load_text

    with pytest.raises(ScenarioFormatError) as info:
        load_text(text, tmp_path / "s.yaml")
    assert message in str(info.value)
    assert str(tmp_path / "s.yaml") in str(info.value)
