"""A step's inputs carry their source as assertions do: the loader refuses a saved value whose
source does not hold, and at level spec a value only the supplement promises that the target does
not give is a departure that skips the steps needing it, never a failure."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from harness.scenarios import loader
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import ScenarioFailure, run_scenario
from harness.target import Target
from tests.test_scenario_runner import app, mini_target, receiver, server  # noqa: F401


def _load(text: str) -> loader.Scenario:
    return loader.load_text(textwrap.dedent(text), Path("inline.yaml"))[0]


HEAD = """
name: inputs
api: {api}
from: "seed#/paths"
steps:
  - request: {request}
    save: {save}
"""


@pytest.mark.parametrize(
    ("api", "request_", "save", "refused"),
    [
        # A seed pointer is not an answer: the value must name the answer it is read from.
        (
            "freefin",
            "{method: POST, path: /api/v1/public/payments, json: {amount: 1}}",
            "{pid: payment.id}",
            "names the answer it comes from",
        ),
        # The answer named is not the one the step asks for.
        (
            "freefin",
            "{method: POST, path: /api/v1/public/payments, json: {amount: 1}}",
            '{from: "seed: GET /api/v1/public/payments/{id} 200", pid: payment.id}',
            "not that operation",
        ),
        # The seed's schema of that answer has no such field.
        (
            "freefin",
            "{method: POST, path: /api/v1/public/payments, json: {amount: 1}}",
            '{from: "seed: POST /api/v1/public/payments 201", d: delivery_id}',
            "not in the seed's schema",
        ),
        # The seed documents no body for Kaspi's test endpoint: its delivery_id is the
        # supplement's.
        (
            "kaspi",
            '{method: POST, path: "/v1/webhooks/{{ $uuid }}/test"}',
            '{from: "seed: POST /v1/webhooks/{id}/test 202", d: delivery_id}',
            "documents no body",
        ),
        # HTTP promises no field of a body.
        (
            "freefin",
            "{method: POST, path: /api/v1/public/payments, json: {amount: 1}}",
            '{from: "http: a body", pid: payment.id}',
            "HTTP promises no field",
        ),
    ],
)
def test_the_loader_refuses_a_saved_value_whose_source_does_not_hold(
    api: str, request_: str, save: str, refused: str
) -> None:
    with pytest.raises(loader.ScenarioFormatError, match=refused):
        _load(HEAD.format(api=api, request=request_, save=save))


def test_a_value_read_from_the_answer_its_seed_schema_documents_loads() -> None:
    scenario = _load(
        HEAD.format(
            api="kaspi",
            request="{method: POST, path: /v1/invoices, json: {amount: 1}}",
            save='{from: "seed: POST /v1/invoices 201", inv: id}',
        )
    )
    assert scenario.steps[0]["save"]["inv"] == "id"


# The mini server answers a create with {"payment": ..., "mode": "test"}: no "receipt" in it.
MISSING_INPUT = """
name: a supplement value the target does not give
api: freefin
from: "seed#/paths"
steps:
  - name: create
    request: {method: POST, path: /api/v1/public/payments, json: {amount: 5}}
    expect: {status: 201}
    save: {from: "supplement#/idempotency", receipt: payment.receipt_id,
           pid: payment.id}
  - name: needs the receipt
    request: {method: GET, path: "/api/v1/public/payments/{{ receipt }}"}
    expect: {status: 200}
  - name: needs only the payment
    request: {method: GET, path: "/api/v1/public/payments/{{ pid }}"}
    expect: {status: 404}
"""


def test_at_spec_a_missing_supplement_input_skips_only_the_steps_that_need_it(
    mini_target: Target,  # noqa: F811
    receiver: WebhookReceiver,  # noqa: F811
    app: object,  # noqa: F811
) -> None:
    scenario = _load(MISSING_INPUT)
    # The last step expects 404 of a payment that exists: it runs, and fails, which shows the
    # steps after a missing input still run.
    with pytest.raises(ScenarioFailure, match=r"step 3 \(needs only the payment\)"):
        run_scenario(scenario, mini_target, receiver)
    scenario = _load(MISSING_INPUT.replace("expect: {status: 404}", "expect: {status: 200}"))
    departures = run_scenario(scenario, mini_target, receiver)
    assert [d.step for d in departures] == ["step 1 (create)", "step 2 (needs the receipt)"]
    assert "receipt" in departures[0].problems[0]
    assert "not run: it needs receipt" in departures[1].problems[0]
    assert departures[1].sources == ["supplement#/idempotency"]


def test_at_strict_a_missing_supplement_input_fails_its_step(
    mini_target: Target,  # noqa: F811
    receiver: WebhookReceiver,  # noqa: F811
    app: object,  # noqa: F811
) -> None:
    strict = dataclasses.replace(mini_target, contract_level="strict")
    with pytest.raises(ScenarioFailure, match=r"step 1 \(create\)[\s\S]*save receipt"):
        run_scenario(_load(MISSING_INPUT), strict, receiver)


def test_a_missing_seed_input_fails_at_spec(
    mini_target: Target,  # noqa: F811
    receiver: WebhookReceiver,  # noqa: F811
    app: object,  # noqa: F811
) -> None:
    # The seed's answer documents "payment"; a target whose payment lacks what is read from it
    # fails the step that reads it, at spec too.
    text = MISSING_INPUT.replace(
        'from: "supplement#/idempotency", receipt: payment.receipt_id,',
        'from: "seed: POST /api/v1/public/payments 201", receipt: payment.receipt_id,',
    )
    with pytest.raises(ScenarioFailure, match=r"step 1 \(create\)[\s\S]*save receipt"):
        run_scenario(_load(text), mini_target, receiver)


def test_a_path_filter_picks_the_items_whose_field_has_a_value() -> None:
    from harness.scenarios import expect, paths

    log = {"items": [{"event_id": "e1", "id": "d1"}, {"event_id": "e2", "id": "d2"}]}
    assert paths.get(log, "items[?event_id=e2][0].id") == "d2"
    assert paths.get(log, "items[?event_id=e3][0].id") is paths.MISSING
    assert expect.match(log, {"$mentions": "d2"}) is None
    assert expect.match(log, {"$mentions": "d3"}) is not None
    assert expect.match({"n": 1}, {"$mentions": True}) is not None  # 1 is not true
