"""Stateful runs: chains of operations through the links of the contract (create -> get ->
cancel / refund -> get), with every check on every step and Retry-After respected.

Two departures from Schemathesis's defaults, both for the same reason (exercise the chains):

- Chains start at the API's creating operations (``ApiProfile.roots``). Schemathesis's own
  guess counts any POST as a reliable start, so it starts from cancel and refund with random
  ids (404, no chain follows) and never from a create whose body names an id it cannot produce
  (``customer_id``).
- A failed check does not end the run: it is recorded (the report gets it through the
  ``after_validate`` hook) and the chains go on, so an early failure cannot hide a later one.
  The run fails at the end with every failure, secrets masked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import hypothesis
import pytest
import schemathesis
from schemathesis.core.errors import NoLinksFound
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import stateful as openapi_stateful

from harness.contract.context import RunContext, run_of_schema
from harness.contract.loader import PROFILES, SEED
from harness.contract.transport import call_patiently


@contextlib.contextmanager
def _roots(labels: set[str]) -> Iterator[None]:
    """While a state machine is built, start chains only at ``labels`` (when it has links)."""
    original = openapi_stateful.classify_root_transitions

    def classify(operations: Any, transitions: Any, graph: Any) -> Any:
        roots = original(operations, transitions, graph)
        chosen = roots.reliable | roots.fallback
        if labels & chosen:
            roots.fallback = chosen - labels
            roots.reliable = chosen & labels
        return roots

    openapi_stateful.classify_root_transitions = classify
    try:
        yield
    finally:
        openapi_stateful.classify_root_transitions = original


def build_state_machine(schema: schemathesis.BaseSchema, run: RunContext) -> type[Any]:
    """The schema's state machine, rooted at the API's creates, patient and keeping going."""
    labels = {f"{method} {path}" for method, path in run.profile.roots}
    with _roots(labels):
        base = schema.as_state_machine()

    class PatientStateMachine(base):  # type: ignore[valid-type, misc]
        failures: ClassVar[list[str]] = []  # of every scenario of this run

        def call(self, case: schemathesis.Case, **kwargs: Any) -> schemathesis.Response:
            return call_patiently(case, **kwargs)

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case,
            additional_checks: Any = None, **kwargs: Any,
        ) -> None:
            try:
                super().validate_response(response, case, additional_checks, **kwargs)
            except FailureGroup as group:
                for failure in group.exceptions:
                    self.failures.append(
                        f"{case.operation.label}: {failure.title}\n    "
                        + run.report.redact(failure.message).replace("\n", "\n    ")
                    )

    return PatientStateMachine


def run_state_machine(schema: schemathesis.BaseSchema, profile: str) -> None:
    """Run the schema's state machine with the profile's bounds (deterministic by default)."""
    run = run_of_schema(schema)
    machine = build_state_machine(schema, run)
    bounds = PROFILES[profile]
    settings = hypothesis.settings(
        max_examples=bounds["stateful_examples"],
        stateful_step_count=bounds["stateful_steps"],
        deadline=None,
        derandomize=profile == "default",
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    if profile != "default":
        hypothesis.seed(SEED)(machine.TestCase)
    try:
        machine.run(settings=settings)
    except NoLinksFound:
        pytest.skip("no links among the operations of this run: no chains to follow")
    if machine.failures:
        shown = "\n".join(dict.fromkeys(machine.failures))
        raise AssertionError(f"{len(machine.failures)} failed checks in the stateful run:\n{shown}")
