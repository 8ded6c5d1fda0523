"""On a target without the simulator's control API (a partner's server), the in-spec scenarios
run rather than skip: only the scenarios that truly need simulated time or the control API are
skipped, with the reason.

The bundled simulator stands in for such a target with its control URL taken away: Kaspi's
in-spec sandbox simulate is then the only way to drive outcomes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.scenarios.loader import Scenario, load_file
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.requirements import unmet
from harness.scenarios.runner import run_scenario
from harness.target import Target

LIFECYCLE = Path(__file__).resolve().parent.parent / "scenarios" / "kaspi" / "lifecycle.yaml"
IN_SPEC = "sandbox simulate reaches every status, on sandbox invoices only"
SIMULATOR_ONLY = "held pending by the sandbox, an invoice outlasts the simulator's default plan"


def _scenario(name: str) -> Scenario:
    return next(sc for sc in load_file(LIFECYCLE) if sc.name == name)


@pytest.fixture
def foreign(target: Target) -> Target:
    """The session's target as a partner's server would be: no control API, no hook."""
    return dataclasses.replace(target, control_url=None, outcome_hook=None, bundled=False)


def test_the_in_spec_sandbox_scenario_needs_no_control_api(foreign: Target) -> None:
    assert not any("clock" in step or "control" in step for step in _scenario(IN_SPEC).steps)
    assert unmet(_scenario(IN_SPEC), foreign) is None
    assert "control API" in (unmet(_scenario(SIMULATOR_ONLY), foreign) or (None, ""))[1]


@pytest.mark.server
def test_the_in_spec_sandbox_scenario_runs_on_a_target_without_control_api(
    foreign: Target, scenario_receiver: WebhookReceiver
) -> None:
    run_scenario(_scenario(IN_SPEC), foreign, scenario_receiver)  # a skip would raise
