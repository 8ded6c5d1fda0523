"""Contract suite for the Arzan Pay Kaspi API: every operation, positive and negative data, and
the stateful chains (invoice create -> get -> cancel / refund / sandbox simulate -> get)."""

from __future__ import annotations

import pytest
import schemathesis

from harness.contract.context import RunContext
from harness.contract.plugin import chosen_operation, contract_profile
from harness.contract.stateful import run_state_machine
from harness.contract.transport import call_and_check

schema = schemathesis.pytest.from_fixture("kaspi_schema").include(func=chosen_operation)


@schema.parametrize()
def test_operation(case: schemathesis.Case) -> None:
    """Each operation: examples, coverage cases and fuzzed data, every check on each answer."""
    call_and_check(case, keep_going=True)


def test_operations_conform(kaspi_contract: tuple[schemathesis.BaseSchema, RunContext]) -> None:
    """No check failed on any generated case of any operation."""
    failures = kaspi_contract[1].report.render_failures("kaspi")
    assert not failures, "\n" + failures


def test_stateful(kaspi_schema: schemathesis.BaseSchema, request: pytest.FixtureRequest) -> None:
    """Chains of operations through links."""
    run_state_machine(kaspi_schema, contract_profile(request.config))
