"""Run one scenario against a target: the steps in order, stopping at the first failure.

This module knows nothing of pytest (the plugin wraps it), so the project's tests can run a
scenario directly and look at the failure it raises. The steps live by kind in
``steps_requests``, ``steps_control`` and ``steps_events``; the run's state in ``state``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from harness.promises import Why
from harness.scenarios import http, paths, provenance, requirements, templating
from harness.scenarios.kaspi_endpoint import kaspi_endpoint
from harness.scenarios.loader import Scenario
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.state import (
    Departure,
    Run,
    ScenarioFailure,
    ScenarioSkip,
    StepFailed,
    Stop,
    step_label,
)
from harness.scenarios.steps_control import step_clock, step_control, step_outcome, step_receiver
from harness.scenarios.steps_events import step_expect_events, step_expect_webhooks, step_sse
from harness.scenarios.steps_requests import step_request
from harness.target import Target

__all__ = ["Departure", "ScenarioFailure", "ScenarioSkip", "run_scenario"]


def run_scenario(scenario: Scenario, target: Target, receiver: WebhookReceiver) -> list[Departure]:
    """Run every step; raise ScenarioSkip or ScenarioFailure. Returns the departures from the
    supplement seen on the way (at level spec they do not fail the scenario)."""
    unmet = requirements.unmet(scenario, target)
    if unmet:
        raise ScenarioSkip(unmet[1], unmet[0])
    profile = target.profile(scenario.api)
    found_at = dict(profile.lists)
    if profile.webhooks.get("object"):
        found_at["object"] = profile.webhooks["object"]
    aliases = paths.use_aliases(found_at)
    session = http.new_session()
    try:
        run = _start(scenario, target, receiver, session)
    except BaseException:
        paths.reset_aliases(aliases)
        session.close()
        raise
    try:
        for name, value in scenario.vars.items():
            run.variables[name] = templating.render(value, run.variables)
        for index, step in enumerate(scenario.steps):
            run.index = index
            try:
                STEPS[next(k for k in STEPS if k in step)](run, step)
            except Stop:
                break
            except templating.NeedsUnavailable as exc:
                run.departures.append(_not_run(run, step, exc.value))
            except StepFailed as exc:
                raise ScenarioFailure(
                    scenario, index, step, exc.problems, exc.exchange, exc.received
                ) from None
            except http.CredentialMissing as exc:
                raise ScenarioSkip(str(exc), Why.CREDENTIAL) from None
    finally:
        paths.reset_aliases(aliases)
        for stream in run.streams.values():
            stream.close()
        session.close()
        receiver.forget(run.token)
    return run.departures


def _not_run(run: Run, step: dict[str, Any], value: templating.Unavailable) -> Departure:
    """The departure of a step that needs a value the target did not give."""
    binding = [
        origin
        for _k, _b, origin in provenance.blocks(step, run.scenario.source)
        if provenance.parse(origin, run.api).binding_at_spec
    ]
    return Departure(
        step_label(run.index, step),
        [f"not run: it needs {value.name}, which only {value.source} promises"],
        [value.source],
        unproved=bool(binding),
    )


def _start(
    scenario: Scenario, target: Target, receiver: WebhookReceiver, session: requests.Session
) -> Run:
    """The run's state: the receiver path its webhooks come to, the profile's names."""
    profile = target.profile(scenario.api)
    variables: dict[str, Any] = {
        "$codes": profile.codes,
        "$events": profile.events,
        "$webhooks": profile.webhooks,
    }
    if scenario.api == "kaspi" and requirements.uses_webhooks(scenario):
        endpoint = kaspi_endpoint(target, receiver, session)
        token = endpoint["token"]
        variables["$kaspi_webhook"] = {k: endpoint[k] for k in ("id", "secret", "url")}
    else:
        token = receiver.new_token()
    variables["$webhook_url"] = receiver.url_for(token)
    return Run(scenario, target, receiver, session, token, variables)


STEPS: dict[str, Callable[[Run, dict[str, Any]], None]] = {
    "request": step_request,
    "outcome": step_outcome,
    "clock": step_clock,
    "control": step_control,
    "receiver": step_receiver,
    "expect_webhooks": step_expect_webhooks,
    "sse": step_sse,
    "expect_events": step_expect_events,
}
