"""Contract suite for the freefin Public API: every operation, positive and negative data, the
stateful chains, and probes for the behaviours no single generated request reaches."""

from __future__ import annotations

import uuid

import pytest
import requests
import schemathesis

from harness import patience
from harness.contract import probes
from harness.contract.checks import error_envelope
from harness.contract.context import RunContext
from harness.contract.plugin import chosen_operation, contract_profile
from harness.contract.stateful import run_state_machine
from harness.contract.transport import call_and_check, validate
from harness.outcomes import drive
from harness.promises import Why, not_exercised
from harness.target import Target

P = "/api/v1/public"
AMOUNT = 150000
schema = (
    schemathesis.pytest.from_fixture("freefin_schema")
    .exclude(operation_id="streamEvents")
    .include(func=chosen_operation)
)
positive = (
    schemathesis.pytest.from_fixture("freefin_positive_schema")
    .exclude(operation_id="streamEvents")
    .include(func=chosen_operation)
)


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
    judged by the seed, so that what the seed's loose inputs leave to chance reaches the
    payment logic. Skipped at strict, where ``test_operation`` generates by those rules already.
    """
    call_and_check(case, keep_going=True)


@pytest.mark.proves("money.minor_units")
def test_operations_conform(freefin_contract: tuple[schemathesis.BaseSchema, RunContext]) -> None:
    """No check failed on any generated case of any operation."""
    failures = freefin_contract[1].report.render_failures("freefin")
    assert not failures, "\n" + failures


def test_stateful(freefin_schema: schemathesis.BaseSchema, request: pytest.FixtureRequest) -> None:
    """Chains of operations through links: create -> get -> cancel / refund -> get."""
    run_state_machine(
        freefin_schema.exclude(operation_id="streamEvents"), contract_profile(request.config)
    )


def _payment(schema: schemathesis.BaseSchema, **headers: str) -> str:
    body = {"amount": AMOUNT, "order_id": f"contract-{uuid.uuid4().hex[:12]}"}
    return probes.create(schema, f"{P}/payments", body, "/payment/id", **headers)


@pytest.mark.proves("idempotency.replay")
def test_idempotent_replay(freefin_schema: schemathesis.BaseSchema) -> None:
    """A create replayed with the same Idempotency-Key and body returns the same payment."""
    _payment(freefin_schema, **{"Idempotency-Key": f"contract-{uuid.uuid4().hex}"})


def test_free_text_in_the_seeds_own_language(freefin_schema: schemathesis.BaseSchema) -> None:
    """A payment whose free-text fields (string, no format, pattern or enum in the seed) are
    written as the seed's own examples are: every check holds on the answer (no 5xx)."""
    text = probes.NATIVE_TEXT
    body = {
        "amount": AMOUNT,
        "order_id": f"{text} {uuid.uuid4().hex[:6]}",
        "customer_id": text,
        "description": text,
        "metadata": {"note": text},
    }
    probes.call(freefin_schema, "POST", f"{P}/payments", body=body)


@pytest.mark.proves("cancel.only_pending", "payment.pending->cancelled")
def test_cancel_only_from_pending(freefin_schema: schemathesis.BaseSchema) -> None:
    """Cancel moves a pending payment to cancelled; a second cancel is refused."""
    payment_id = _payment(freefin_schema)
    cancel = f"{P}/payments/{{id}}/cancel"
    first = probes.call(freefin_schema, "POST", cancel, obj_id=payment_id)
    if first.status_code == 409:
        raise not_exercised(
            Why.TARGET, "the target's payments leave pending at once: nothing to cancel"
        )
    probes.call(freefin_schema, "GET", f"{P}/payments/{{id}}", obj_id=payment_id)
    probes.call(freefin_schema, "POST", cancel, obj_id=payment_id)


@pytest.mark.proves("refund.within_amount", "refund.partial_and_full")
def test_refunds_never_exceed_amount(
    freefin_schema: schemathesis.BaseSchema, target: Target
) -> None:
    """Partial refund, a refund above the remainder, the remainder, then nothing left."""
    payment_id = _payment(freefin_schema)
    cannot = drive(target, "freefin", "payment", payment_id, "succeeded")
    if cannot:
        raise not_exercised(Why.OUTCOME_HOOK, cannot)
    refund, payment = f"{P}/payments/{{id}}/refund", f"{P}/payments/{{id}}"
    probes.call(freefin_schema, "GET", payment, obj_id=payment_id)
    probes.call(freefin_schema, "POST", refund, obj_id=payment_id, body={"amount": AMOUNT // 3})
    probes.call(freefin_schema, "POST", refund, obj_id=payment_id, body={"amount": AMOUNT})
    probes.call(freefin_schema, "POST", refund, obj_id=payment_id, body={})
    probes.call(freefin_schema, "GET", payment, obj_id=payment_id)
    probes.call(freefin_schema, "POST", refund, obj_id=payment_id, body={"amount": 1})


@pytest.mark.proves("rate_limit.retry_after")
def test_rate_limit_says_when_to_retry(
    freefin_schema: schemathesis.BaseSchema, target: Target
) -> None:
    """Every 429 carries Retry-After; after waiting that long the request goes through."""
    if not target.freefin_limited_key:
        raise not_exercised(Why.CREDENTIAL, "no --freefin-limited-key: cannot provoke a 429")
    probes.rate_limit_says_when_to_retry(
        freefin_schema, f"{P}/banks/sbp", {"Authorization": f"Bearer {target.freefin_limited_key}"}
    )


@pytest.mark.proves("GET /api/v1/public/events 200", "auth.bearer_key")
def test_event_stream_requires_auth(
    freefin_contract: tuple[schemathesis.BaseSchema, RunContext],
) -> None:
    """The SSE stream (never ending, so not fuzzed) refuses a missing key with the envelope
    and answers text/event-stream to a valid one."""
    schema, run = freefin_contract
    case = probes.operation(schema, f"{P}/events", "GET").Case()
    url = f"{run.base_url}{P}/events"
    refused = patience.request("GET", url, timeout=10)
    validate(case, refused, checks=[error_envelope])
    assert refused.status_code == 401, refused.status_code
    with requests.get(url, headers=run.auth_headers, stream=True, timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers.get("Content-Type", "").startswith("text/event-stream")
