"""Contract suite for the Arzan Pay Kaspi API: every operation, positive and negative data, the
stateful chains (invoice create -> get -> cancel / refund / sandbox simulate -> get), and
probes for the behaviours no single generated request reaches."""

from __future__ import annotations

import uuid

import pytest
import schemathesis

from harness.contract import probes
from harness.contract.context import RunContext
from harness.contract.plugin import chosen_operation, contract_profile
from harness.contract.stateful import run_state_machine
from harness.contract.transport import call_and_check
from harness.promises import Why, not_exercised
from harness.target import Target

schema = schemathesis.pytest.from_fixture("kaspi_schema").include(func=chosen_operation)
positive = schemathesis.pytest.from_fixture("kaspi_positive_schema").include(func=chosen_operation)

INVOICES = "/v1/invoices"
INVOICE = "/v1/invoices/{id}"
AMOUNT = 1500


@schema.parametrize()
def test_operation(case: schemathesis.Case) -> None:
    """Each operation: examples, coverage cases and fuzzed data, every check on each answer.

    A failing check does not stop the operation's examples (the report records every one);
    ``test_operations_conform`` fails with all of them.
    """
    call_and_check(case, keep_going=True)


@positive.parametrize()
def test_operation_positive(case: schemathesis.Case) -> None:
    """Spec level: each operation with valid data by the supplement's request rules, answers
    judged by the seed. The seed's own loose inputs (any string a phone number) have most
    creates refused before the invoice logic; these reach it. Skipped at strict, where
    ``test_operation`` generates by those rules already.
    """
    call_and_check(case, keep_going=True)


@pytest.mark.proves("money.string_amounts")
def test_operations_conform(kaspi_contract: tuple[schemathesis.BaseSchema, RunContext]) -> None:
    """No check failed on any generated case of any operation."""
    failures = kaspi_contract[1].report.render_failures("kaspi")
    assert not failures, "\n" + failures


def test_stateful(kaspi_schema: schemathesis.BaseSchema, request: pytest.FixtureRequest) -> None:
    """Chains of operations through links."""
    run_state_machine(kaspi_schema, contract_profile(request.config))


def _invoice(schema: schemathesis.BaseSchema, sandbox: bool, **headers: str) -> str:
    body = {
        "amount": AMOUNT,
        "phone_number": "77011234567",
        "is_sandbox": sandbox,
        "description": "contract probe",
        "external_order_id": f"contract-{uuid.uuid4().hex}",
    }
    return probes.create(schema, INVOICES, body, "/id", **headers)


def test_free_text_in_the_seeds_own_language(kaspi_schema: schemathesis.BaseSchema) -> None:
    """An invoice whose free-text fields are written as the seed's own examples are
    ("Заказ #1042"): every check holds on the answer (no 5xx)."""
    text = probes.NATIVE_TEXT
    body = {
        "amount": AMOUNT,
        "phone_number": "77011234567",
        "is_sandbox": True,
        "description": text,
        "external_order_id": f"{text} {uuid.uuid4().hex[:6]}",
    }
    probes.call(kaspi_schema, "POST", INVOICES, body=body)


@pytest.mark.proves("idempotency.replay")
def test_idempotent_replay(kaspi_schema: schemathesis.BaseSchema) -> None:
    """An invoice create replayed with the same Idempotency-Key and body returns the same one."""
    _invoice(kaspi_schema, True, **{"Idempotency-Key": f"contract-{uuid.uuid4().hex}"})


@pytest.mark.proves("cancel.only_open", "invoice.pending->canceled")
def test_cancel_only_from_pending(kaspi_schema: schemathesis.BaseSchema) -> None:
    """Cancel moves a pending invoice to canceled; a second cancel is refused."""
    invoice_id = _invoice(kaspi_schema, True)
    cancel = f"{INVOICE}/cancel"
    first = probes.call(kaspi_schema, "POST", cancel, obj_id=invoice_id)
    if first.status_code == 409:
        raise not_exercised(
            Why.TARGET, "the target's invoices leave pending at once: nothing to cancel"
        )
    probes.call(kaspi_schema, "GET", INVOICE, obj_id=invoice_id)
    probes.call(kaspi_schema, "POST", cancel, obj_id=invoice_id)


@pytest.mark.proves("refund.within_amount", "sandbox.simulate")
def test_refunds_never_exceed_amount(kaspi_schema: schemathesis.BaseSchema) -> None:
    """A sandbox invoice paid through the API's simulate: partial refund, a refund above the
    remainder, the remainder, then nothing left."""
    invoice_id = _invoice(kaspi_schema, True)
    paid = probes.call(
        kaspi_schema,
        "POST",
        "/v1/sandbox/invoices/{id}/simulate",
        obj_id=invoice_id,
        body={"status": "paid"},
    )
    assert paid.status_code == 200, f"simulate paid: {paid.status_code} {paid.text[:300]}"
    refund = f"{INVOICE}/refund"
    probes.call(kaspi_schema, "POST", refund, obj_id=invoice_id, body={"amount": AMOUNT // 3})
    probes.call(kaspi_schema, "POST", refund, obj_id=invoice_id, body={"amount": AMOUNT})
    probes.call(kaspi_schema, "POST", refund, obj_id=invoice_id, body={})
    probes.call(kaspi_schema, "GET", INVOICE, obj_id=invoice_id)
    probes.call(kaspi_schema, "POST", refund, obj_id=invoice_id, body={"amount": 1})


def test_rate_limit_says_when_to_retry(
    kaspi_schema: schemathesis.BaseSchema, target: Target
) -> None:
    """Every 429 carries Retry-After; after waiting that long the request goes through."""
    if not target.kaspi_limited_key:
        raise not_exercised(Why.CREDENTIAL, "no --kaspi-limited-key: cannot provoke a 429")
    probes.rate_limit_says_when_to_retry(
        kaspi_schema, "/v1/me", {"X-API-Key": target.kaspi_limited_key}
    )
