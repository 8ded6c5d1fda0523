"""The state of one scenario run, and how its steps fail, skip, stop or depart.

Shared by the step modules (``steps_requests``, ``steps_control``, ``steps_events``) and the
runner; it knows nothing of pytest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import requests

from harness.level import Level
from harness.promises import Why
from harness.scenarios import http, paths, provenance, templating
from harness.scenarios.loader import Scenario
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.sse import SSEStream
from harness.target import Target

DEFAULT_WAIT = 5.0


class ScenarioSkip(Exception):
    """The scenario cannot run on this target; the message says why, ``why`` its category."""

    def __init__(self, reason: str, why: Why = Why.TARGET) -> None:
        super().__init__(reason)
        self.why = why


class ScenarioFailure(Exception):
    """A step failed: which one, what was expected, what came back, the request as curl."""

    def __init__(
        self,
        scenario: Scenario,
        index: int,
        step: dict[str, Any],
        problems: list[str],
        exchange: http.Exchange | None = None,
        received: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.index = index
        self.step = step
        self.problems = problems
        self.exchange = exchange
        self.received = received
        super().__init__(self.render())

    @property
    def step_label(self) -> str:
        return step_label(self.index, self.step)

    def render(self) -> str:
        """The readable report shown by pytest."""
        lines = [
            f"scenario {self.scenario.name!r} ({self.scenario.path}) failed at {self.step_label}"
        ]
        lines += [f"  - {p}" for p in self.problems]
        if self.exchange is not None:
            lines += ["request:", "  " + self.exchange.curl()]
            lines += ["received:", *("  " + ln for ln in self.exchange.received().splitlines())]
        if self.received:
            lines += ["received:", self.received]
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """One assertion that did not hold, and where the assertion comes from."""

    problem: str
    source: provenance.Source


@dataclasses.dataclass
class Departure:
    """Assertions of the supplement a target does not follow (level spec: reported only)."""

    step: str
    problems: list[str]
    sources: list[str]
    received: str = ""
    # A step not run for a value the target did not give, which held seed assertions: what
    # the scenario proves was then not all exercised.
    unproved: bool = False


NO_RESPONSE = provenance.Source("http", "a request gets a response")
DECLARED_SIGNATURE = provenance.Source("profile", "webhooks.signature_header")


def step_label(index: int, step: dict[str, Any]) -> str:
    """``step 3 (cancel again)``: the step's name, or its action."""
    name = step.get("name") or next(
        (k for k in step if k not in ("name", "expect", "save", "from")), "step"
    )
    return f"step {index + 1} ({name})"


class Stop(Exception):
    """The rest of the scenario cannot apply to this target (its departures stand)."""


class StepFailed(Exception):
    def __init__(
        self,
        problems: list[str],
        exchange: http.Exchange | None = None,
        received: str | None = None,
    ) -> None:
        super().__init__("; ".join(problems))
        self.problems, self.exchange, self.received = problems, exchange, received


@dataclasses.dataclass
class Run:
    """The state of one scenario run."""

    scenario: Scenario
    target: Target
    receiver: WebhookReceiver
    session: requests.Session
    token: str
    variables: dict[str, Any]
    streams: dict[str, SSEStream] = dataclasses.field(default_factory=dict)
    departures: list[Departure] = dataclasses.field(default_factory=list)
    index: int = 0

    @property
    def api(self) -> str:
        return self.scenario.api

    @property
    def level(self) -> Level:
        return self.target.level

    def blocks(self, step: dict[str, Any], key: str) -> list[tuple[Any, provenance.Source]]:
        """The step's ``key`` blocks (rendered) with their sources."""
        found = []
        for k, block, origin in provenance.blocks(step, self.scenario.source):
            if k == key:
                found.append((self.render(block), provenance.parse(origin, self.api)))
        return found

    def judge(
        self, step: dict[str, Any], findings: list[Mismatch], received: str = ""
    ) -> list[str]:
        """The problems that fail the step at the run's level; the rest become departures."""
        failing = [f for f in findings if f.source.binding(self.level)]
        departing = [f for f in findings if not f.source.binding(self.level)]
        if departing:
            self.departures.append(
                Departure(
                    step_label(self.index, step),
                    [f.problem for f in departing],
                    sorted({str(f.source) for f in departing}),
                    received[:800],
                )
            )
        return [f"{f.problem} [{f.source}]" for f in failing]

    def render(self, value: Any) -> Any:
        try:
            return templating.render(value, self.variables)
        except templating.TemplateError as exc:
            raise StepFailed([str(exc)]) from exc


def save(run: Run, step: dict[str, Any], value: Any, ex: http.Exchange | None = None) -> None:
    """Keep the step's ``save`` values. One that is missing fails the step when its source
    binds at the run's level; else it is a departure, and the steps that need it do not run."""
    wanted = provenance.saved_paths(step.get("save"))
    if not wanted:
        return
    source = provenance.parse(provenance.save_origin(step, run.scenario.source) or "", run.api)
    for name, path in wanted.items():
        path = run.render(path)
        found = paths.get(value, path)
        if found is not paths.MISSING:
            run.variables[name] = found
            continue
        said = ""
        if ex is not None:
            said = body_problem(ex) or f"answered {ex.status} without it"
        problem = f"save {name}: expected a value at {path!r} to go on with; {said}".rstrip("; ")
        if source.binding(run.level):
            raise StepFailed([f"{problem} [{source}]"], ex)
        run.departures.append(
            Departure(
                step_label(run.index, step),
                [f"{problem}; the steps that need it are not run"],
                [str(source)],
                ex.received()[:800] if ex is not None else "",
            )
        )
        run.variables[name] = templating.Unavailable(name, str(source))


def body_problem(ex: http.Exchange) -> str | None:
    """Why the body cannot be checked (empty, not JSON), or None."""
    if ex.json is not None or ex.text.strip() == "null":
        return None
    if not ex.text:
        return f"answered {ex.status} with an empty body, expected a JSON body"
    return f"answered {ex.status} with a body that is not JSON: {ex.text[:200]!r}"
