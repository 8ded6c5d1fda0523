"""Contract suite for the freefin Public API: every operation, positive and negative data, the
stateful chains, and probes for the behaviours no single generated request reaches."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests
import schemathesis

from harness.contract.checks import error_envelope, retry_after_on_429
from harness.contract.context import RunContext, run_of_schema
from harness.contract.drive import drive
from harness.contract.plugin import chosen_operation, contract_profile
from harness.contract.stateful import run_state_machine
from harness.contract.transport import call_and_check, retry_after_seconds
from harness.target import Target

P = "/api/v1/public"
schema = (
    schemathesis.pytest.from_fixture("freefin_schema")
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


def test_operations_conform(
    freefin_contract: tuple[schemathesis.BaseSchema, RunContext]
) -> None:
    """No check failed on any generated case of any operation."""
    failures = freefin_contract[1].report.render_failures("freefin")
    assert not failures, "\n" + failures


def test_stateful(freefin_schema: schemathesis.BaseSchema, request: pytest.FixtureRequest) -> None:
    """Chains of operations through links: create -> get -> cancel / refund -> get."""
    run_state_machine(freefin_schema.exclude(operation_id="streamEvents"),
                      contract_profile(request.config))


def _auth(schema: schemathesis.BaseSchema) -> dict[str, str]:
    # Cases built by hand do not get the configured auth: add the run's credentials.
    run = run_of_schema(schema)
    return dict(run.auth_headers)


def _create(schema: schemathesis.BaseSchema, **headers: str) -> tuple[str, int]:
    case = schema[f"{P}/payments"]["POST"].Case(
        body={"amount": 150000, "order_id": f"contract-{uuid.uuid4().hex[:12]}"},
        headers={**_auth(schema), **headers}, media_type="application/json",
    )
    response = call_and_check(case)
    assert response.status_code == 201, response.text
    return response.json()["payment"]["id"], 150000


def _op(schema: schemathesis.BaseSchema, method: str, path: str, obj_id: str,
        body: dict[str, Any] | None = None) -> schemathesis.Response:
    operation = schema[path][method]
    if body is None:
        case = operation.Case(path_parameters={"id": obj_id}, headers=_auth(schema))
    else:
        case = operation.Case(path_parameters={"id": obj_id}, headers=_auth(schema),
                              body=body, media_type="application/json")
    return call_and_check(case)


def test_idempotent_replay(freefin_schema: schemathesis.BaseSchema) -> None:
    """A create replayed with the same Idempotency-Key and body returns the same payment."""
    _create(freefin_schema, **{"Idempotency-Key": f"contract-{uuid.uuid4().hex}"})


def test_cancel_only_from_pending(
    freefin_schema: schemathesis.BaseSchema, target: Target
) -> None:
    """Cancel moves a pending payment to cancelled; a second cancel is refused."""
    payment_id, _ = _create(freefin_schema)
    cancel = f"{P}/payments/{{id}}/cancel"
    first = _op(freefin_schema, "POST", cancel, payment_id)
    if first.status_code == 409:
        pytest.skip("the target's payments leave pending at once: nothing to cancel")
    _op(freefin_schema, "GET", f"{P}/payments/{{id}}", payment_id)
    _op(freefin_schema, "POST", cancel, payment_id)


def test_refunds_never_exceed_amount(
    freefin_schema: schemathesis.BaseSchema, target: Target
) -> None:
    """Partial refund, a refund above the remainder, the remainder, then nothing left."""
    payment_id, amount = _create(freefin_schema)
    drive(target, "freefin", "payment", payment_id, "succeeded")
    refund = f"{P}/payments/{{id}}/refund"
    _op(freefin_schema, "GET", f"{P}/payments/{{id}}", payment_id)
    _op(freefin_schema, "POST", refund, payment_id, {"amount": amount // 3})
    _op(freefin_schema, "POST", refund, payment_id, {"amount": amount})
    _op(freefin_schema, "POST", refund, payment_id, {})
    _op(freefin_schema, "GET", f"{P}/payments/{{id}}", payment_id)
    _op(freefin_schema, "POST", refund, payment_id, {"amount": 1})


def test_rate_limit_says_when_to_retry(
    freefin_contract: tuple[schemathesis.BaseSchema, RunContext], target: Target
) -> None:
    """Every 429 carries Retry-After; after waiting that long the request goes through."""
    schema, run = freefin_contract
    if not target.freefin_limited_key:
        pytest.skip("no --freefin-limited-key: cannot provoke a 429")
    case = schema[f"{P}/banks/sbp"]["GET"].Case()
    url = f"{run.base_url}{P}/banks/sbp"
    headers = {"Authorization": f"Bearer {target.freefin_limited_key}"}
    for _ in range(20):
        response = requests.get(url, headers=headers, timeout=10)
        if response.status_code == 429:
            break
    else:
        pytest.skip("the limited merchant was never rate limited within 20 requests")
    case.validate_response(response, checks=[retry_after_on_429, error_envelope])
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    assert wait is not None and wait <= 10, f"Retry-After {wait} s"

    time.sleep(wait + 0.05)
    assert requests.get(url, headers=headers, timeout=10).status_code != 429


def test_event_stream_requires_auth(
    freefin_contract: tuple[schemathesis.BaseSchema, RunContext]
) -> None:
    """The SSE stream (never ending, so not fuzzed) refuses a missing key with the envelope
    and answers text/event-stream to a valid one."""
    schema, run = freefin_contract
    case = schema[f"{P}/events"]["GET"].Case()
    url = f"{run.base_url}{P}/events"
    refused = requests.get(url, timeout=10)
    case.validate_response(refused, checks=[error_envelope])
    assert refused.status_code == 401, refused.status_code
    with requests.get(url, headers=run.auth_headers, stream=True, timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers.get("Content-Type", "").startswith("text/event-stream")
