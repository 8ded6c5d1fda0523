"""The smoke load profile against the independent servers (tests/foreign), as a partner runs it.

Locust runs in a child process (``loadtests.run``), bounded by the profile's shape. Each
creating user replays its first create and races the next, whatever the random replay share
(here 0), so a server whose idempotent replay creates a copy fails every run, on both APIs;
the clean servers pass with every gating threshold measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.target import LOAD_CREDENTIALS
from loadtests.run import run_profile
from tests.foreign import run as foreign

pytestmark = pytest.mark.server


def smoke(api: str, bugs: tuple[str, ...], out: Path) -> tuple[int, dict[str, Any]]:
    with foreign.serving(api, bugs) as base:
        found = foreign.settings(api, base)
        code = run_profile(
            "smoke",
            base,
            found.get("kaspi_url"),
            {k: str(found[k]) for k in LOAD_CREDENTIALS if k in found},
            out,
            api=api,
            extra_args=["--replay-share", "0"],
        )
    verdict = out / "thresholds.json"
    assert verdict.exists(), (out / "locust.log").read_text()[-3000:]
    return code, json.loads(verdict.read_text())


@pytest.mark.alone  # judges latency thresholds
@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_a_clean_server_passes_on_measured_thresholds(api: str, tmp_path: Path) -> None:
    code, verdict = smoke(api, (), tmp_path)
    assert code == 0, (tmp_path / "locust.log").read_text()[-3000:]
    gating = [c for c in verdict["checks"] if c["gating"]]
    assert all(c["held"] and c["samples"] >= c["needed"] for c in gating)
    dup = next(c for c in gating if c["what"].startswith(f"duplicates created, {api}"))
    assert dup["samples"] >= 5
    observed = verdict["observed"]
    assert observed["replays"] >= 5 and observed["races"] >= 5 and observed["duplicates"] == 0


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_a_replay_that_creates_a_copy_fails_every_smoke_run(api: str, tmp_path: Path) -> None:
    code, verdict = smoke(api, ("replay_duplicates",), tmp_path)
    assert code == 1, (tmp_path / "locust.log").read_text()[-3000:]
    broken = [c["what"].split(" (")[0] for c in verdict["checks"] if c["held"] is False]
    assert f"duplicates created, {api}" in broken
    assert verdict["observed"]["duplicates"] > 0
    assert any("replay" in e or "race" in e for e in verdict["observed"]["duplicate_examples"])
