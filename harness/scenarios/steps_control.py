"""Steps that drive the target rather than ask it: the simulator's clock and control API,
outcomes through the first able driver, and how the webhook receiver answers."""

from __future__ import annotations

from typing import Any

from harness.outcomes import ControlDriver, DriverError, OutcomeUnreachable, drivers_for, pick
from harness.promises import Why
from harness.scenarios import http, requirements
from harness.scenarios.state import Run, ScenarioSkip, StepFailed
from harness.scenarios.steps_requests import poll


def _control(run: Run) -> ControlDriver:
    assert run.target.control_url, "requirements guarantee a control URL"
    return ControlDriver(run.target.control_url, run.target.control_token)


def step_clock(run: Run, step: dict[str, Any]) -> None:
    """Move simulated time (never a sleep)."""
    seconds = run.render(step["clock"]["advance"])
    run.receiver.quiesce()
    try:
        _control(run).advance_clock(float(seconds))
    except DriverError as exc:
        raise StepFailed([f"clock advance {seconds} s: {exc}"]) from exc


def step_control(run: Run, step: dict[str, Any]) -> None:
    """A raw control API call (simulator only), checked, polled and saved like a request."""

    def send() -> http.Exchange:
        spec = run.render(step["control"])
        has_body = "json" in spec
        control = _control(run)
        ex = http.Exchange(
            method=spec["method"],
            url=control.url + spec["path"],
            headers={
                **control.headers,
                **({"Content-Type": "application/json"} if has_body else {}),
            },
            body=http.json_bytes(spec["json"]) if has_body else b"",
        )
        return http.send(run.session, ex)

    poll(run, {"expect": {"status": [200, 201, 202, 204]}, **step}, send)


def step_outcome(run: Run, step: dict[str, Any]) -> None:
    """Set up an outcome through the first driver able to."""
    spec = run.render(step["outcome"])
    now = "id" in spec
    driver = pick(
        drivers_for(run.target), run.api, spec["object"], now=now, status=spec.get("status")
    )
    if driver is None:
        raise ScenarioSkip(requirements.no_driver(run.api, spec), Why.OUTCOME_HOOK)
    try:
        if now:
            driver.transition(run.api, spec["object"], str(spec["id"]), spec["status"])
        else:
            driver.queue(run.api, spec["object"], spec["outcome"], spec.get("delay_ms"))
    except OutcomeUnreachable as exc:
        what = spec.get("status") or spec.get("outcome")
        raise ScenarioSkip(
            f"the {driver.name} cannot make a {spec['object']} {what}: {exc}", Why.OUTCOME_HOOK
        ) from None
    except DriverError as exc:
        raise StepFailed([f"{driver.name}: {exc}"]) from exc


def step_receiver(run: Run, step: dict[str, Any]) -> None:
    """Tell the receiver to fail the next N deliveries of this scenario."""
    spec = run.render(step["receiver"])
    run.receiver.fail_next(
        run.token,
        spec.get("fail", 0),
        spec.get("mode", "status"),
        spec.get("status", 500),
        spec.get("hold", 6.0),
        spec.get("where"),
    )
