"""The bodies the load personas send are ones the seeds accept, and carry the outcome planned."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from loadtests import data
from simulator.core.spec import first_error, request_validator

BODIES: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
    ("freefin.openapi.yaml", "/api/v1/public/payments", data.freefin_payment),
    (
        "freefin.openapi.yaml",
        "/api/v1/public/payouts",
        lambda: data.freefin_payout(["100000000004"]),
    ),
    ("kaspi.openapi.json", "/v1/invoices", lambda: data.kaspi_invoice()[0]),
    ("kaspi.openapi.json", "/v1/qr", data.kaspi_qr),
    ("kaspi.openapi.json", "/v1/subscriptions", data.kaspi_subscription),
]


@pytest.mark.parametrize(("spec", "path", "make"), BODIES, ids=[b[1] for b in BODIES])
def test_every_body_is_valid_for_its_seed_operation(
    spec: str, path: str, make: Callable[[], dict[str, Any]]
) -> None:
    random.seed(7)
    validator = request_validator(spec, path, "post")
    assert [first_error(validator, make()) for _ in range(50)] == [None] * 50


def test_the_planned_outcome_rides_in_the_body() -> None:
    random.seed(7)
    body, outcome = data.kaspi_invoice()
    assert f"[sim:{outcome}]" in body["description"]
    assert data.freefin_payment()["metadata"]["sim_outcome"] in {"succeeded", "pending"} | {
        "failed:insufficient_funds"
    }


def test_encoded_bodies_are_the_same_json_in_either_form() -> None:
    body = {"description": "Заказ", "amount": 1}
    forms = set()
    for seed in range(20):
        random.seed(seed)
        encoded = data.encode(body)
        assert json.loads(encoded) == body
        forms.add(encoded)
    assert len(forms) == 2
