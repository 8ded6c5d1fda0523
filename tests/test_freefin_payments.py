"""freefin payments: validation, the state machine on the simulated clock, scripted outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.core.runtime import Runtime
from tests.conftest import FF, KEY_A1, KEY_A3, SpecClient, create_payment


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"amount": 0},
        {"amount": -5},
        {"amount": "100"},
        {"amount": 10.5},
        {"amount": 100, "method": "bitcoin"},
        {"amount": 100, "return_url": "not a url"},
        {"amount": 100, "webhook_url": "/relative"},
        {"amount": 100, "metadata": {"a": 1}},
        {"amount": 100, "metadata": "x"},
        {"amount": 100, "order_id": 42},
        {"amount": 100, "metadata": {"sim_outcome": "exploded"}},
    ],
)
def test_invalid_bodies_are_400_bad_request(api: SpecClient, body: dict[str, Any]) -> None:
    resp = api.post(f"{FF}/payments", json=body)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    ("data", "ctype"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("", "application/json"),
        ("amount=1", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_malformed_requests_are_400(api: SpecClient, data: str | bytes, ctype: str) -> None:
    resp = api.post(f"{FF}/payments", data=data, headers={"Content-Type": ctype})
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "bad_request"


def test_oversized_body_is_413_in_the_envelope(api: SpecClient) -> None:
    resp = api.post(f"{FF}/payments", json={"amount": 1, "description": "x" * 70_000})
    assert resp.status_code == 413
    assert resp.json["error"]["code"] == "payload_too_large"


def test_create_returns_the_documented_shape(api: SpecClient) -> None:
    resp = api.post(
        f"{FF}/payments",
        json={
            "amount": 150000,
            "currency": "RUB",
            "method": "sbp",
            "order_id": "ORDER-1042",
            "customer_id": "user-7821",
            "return_url": "https://example.com/done",
            "metadata": {"cart": "42"},
        },
    )
    assert resp.status_code == 201
    body = resp.json
    assert body["mode"] == "test" and body["idempotent"] is False
    assert body["payment_url"].endswith(body["payment"]["id"])
    assert body["simulator"] == "succeeded after 2000ms"
    payment = body["payment"]
    assert payment["status"] == "pending" and payment["amount"] == 150000
    assert payment["amount_refunded"] == 0 and payment["refunds"] == []
    assert payment["metadata"] == {"cart": "42"}


def test_default_lifecycle_pending_processing_succeeded(api: SpecClient, rt: Runtime) -> None:
    payment = create_payment(api, method="cards")
    path = f"{FF}/payments/{payment['id']}"
    rt.advance(1.0)
    processing = api.get(path).json
    assert processing["status"] == "processing"
    assert processing["processing_until"] and processing["customer_card_mask"]
    rt.advance(1.0)
    done = api.get(path).json
    assert done["status"] == "succeeded"
    assert done["captured_at"] and done["finalized_at"] and len(done["rrn"]) == 12


@pytest.mark.parametrize(
    ("fields", "status", "failure"),
    [
        (
            {"metadata": {"sim_outcome": "failed:insufficient_funds"}},
            "failed",
            "insufficient_funds",
        ),
        ({"amount": 1313}, "failed", "card_declined"),
        ({"metadata": {"sim_outcome": "succeeded", "sim_delay_ms": "10000"}}, "processing", None),
        ({"amount": 1616}, "pending", None),
        ({"amount": 1717}, "processing", None),
    ],
)
def test_magic_values_script_the_outcome(
    api: SpecClient, rt: Runtime, fields: dict[str, Any], status: str, failure: str | None
) -> None:
    payment = create_payment(api, **fields)
    rt.advance(5)
    got = api.get(f"{FF}/payments/{payment['id']}").json
    assert got["status"] == status
    assert got.get("failure_code") == failure


def test_pending_payment_expires_at_expires_at(api: SpecClient, rt: Runtime) -> None:
    payment = create_payment(api, key=KEY_A3)  # this terminal leaves payments pending
    rt.advance(14 * 60)
    assert api.get(f"{FF}/payments/{payment['id']}", key=KEY_A3).json["status"] == "pending"
    rt.advance(61)
    got = api.get(f"{FF}/payments/{payment['id']}", key=KEY_A3).json
    assert got["status"] == "expired" and got["finalized_at"]


def test_cancel_only_from_pending(api: SpecClient, rt: Runtime) -> None:
    payment = create_payment(api)
    path = f"{FF}/payments/{payment['id']}"
    resp = api.post(f"{path}/cancel")
    assert resp.status_code == 200 and resp.json["status"] == "cancelled"
    again = api.post(f"{path}/cancel")
    assert again.status_code == 409 and again.json["error"]["code"] == "not_pending"
    rt.advance(5)  # a cancelled payment stays cancelled whatever was planned
    assert api.get(path).json["status"] == "cancelled"
    other = create_payment(api)
    rt.advance(5)
    late = api.post(f"{FF}/payments/{other['id']}/cancel")
    assert late.status_code == 409 and late.json["error"]["code"] == "not_pending"


def test_customer_details_are_reproducible(api: SpecClient, rt: Runtime) -> None:
    from simulator.freefin.customers import customer

    assert customer("abc", "cards") == customer("abc", "cards")
    assert customer("abc", "cards") != customer("abd", "cards")
    payment = create_payment(api, method="sbp")
    rt.advance(1)
    got = api.get(f"{FF}/payments/{payment['id']}", key=KEY_A1).json
    assert got["customer_phone_mask"].startswith("+7•") and got["customer_payer_bank"]


def test_payment_page_pays_or_declines(api: SpecClient) -> None:
    body = api.post(f"{FF}/payments", json={"amount": 150050, "order_id": "PAGE-1"}).json
    path = "/" + body["payment_url"].split("/", 3)[3]
    page = api.client.get(path)
    assert page.status_code == 200 and "1 500,50 RUB" in page.get_data(as_text=True)
    paid = api.client.post(path, data={"result": "succeeded"})
    assert paid.status_code == 303
    assert api.get(f"{FF}/payments/{body['payment']['id']}").json["status"] == "succeeded"
    assert "<form" not in api.client.get(path).get_data(as_text=True)
    declined = create_payment(api)
    api.client.post(f"/pay/{declined['id']}", data={"result": "failed"})
    got = api.get(f"{FF}/payments/{declined['id']}").json
    assert got["status"] == "failed" and got["failure_code"] == "declined_by_customer"
    assert api.client.get("/pay/nope").status_code == 404
