"""Stateful runs: chains of operations through the links of the contract (create -> get ->
cancel / refund -> get), with every check on every step and Retry-After respected."""

from __future__ import annotations

from typing import Any

import hypothesis
import schemathesis

from harness.contract.loader import PROFILES, SEED
from harness.contract.transport import call_patiently


def run_state_machine(schema: schemathesis.BaseSchema, profile: str) -> None:
    """Run the schema's state machine with the profile's bounds (deterministic by default)."""
    base = schema.as_state_machine()

    class PatientStateMachine(base):  # type: ignore[valid-type, misc]
        def call(self, case: schemathesis.Case, **kwargs: Any) -> schemathesis.Response:
            return call_patiently(case, **kwargs)

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
        hypothesis.seed(SEED)(PatientStateMachine.TestCase)
    PatientStateMachine.run(settings=settings)
