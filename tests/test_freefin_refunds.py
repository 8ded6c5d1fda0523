"""freefin refunds: partial, remainder, over the remainder, wrong states."""

from __future__ import annotations

from simulator.core.runtime import Runtime
from tests.conftest import FF, KEY_A3, SpecClient, create_payment


def _paid(api: SpecClient, rt: Runtime, amount: int = 10000) -> str:
    payment = create_payment(api, amount=amount)
    rt.advance(3)
    return str(payment["id"])


def test_partial_then_the_remainder(api: SpecClient, rt: Runtime) -> None:
    pid = _paid(api, rt)
    first = api.post(f"{FF}/payments/{pid}/refund", json={"amount": 3000, "reason": "part"})
    assert first.status_code == 201 and first.json["amount"] == 3000
    assert first.json["status"] == "succeeded" and first.json["reason"] == "part"
    assert api.get(f"{FF}/payments/{pid}").json["status"] == "succeeded"
    rest = api.post(f"{FF}/payments/{pid}/refund", json={"amount": 0})
    assert rest.status_code == 201 and rest.json["amount"] == 7000
    got = api.get(f"{FF}/payments/{pid}").json
    assert got["status"] == "refunded" and got["amount_refunded"] == 10000
    assert [r["amount"] for r in got["refunds"]] == [3000, 7000]


def test_absent_amount_refunds_everything(api: SpecClient, rt: Runtime) -> None:
    pid = _paid(api, rt)
    resp = api.post(f"{FF}/payments/{pid}/refund")
    assert resp.status_code == 201 and resp.json["amount"] == 10000
    again = api.post(f"{FF}/payments/{pid}/refund", json={"amount": 1})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_refunded"


def test_over_the_remainder_is_422(api: SpecClient, rt: Runtime) -> None:
    pid = _paid(api, rt)
    api.post(f"{FF}/payments/{pid}/refund", json={"amount": 6000})
    resp = api.post(f"{FF}/payments/{pid}/refund", json={"amount": 4001})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "amount_exceeds_remainder"
    assert api.get(f"{FF}/payments/{pid}").json["amount_refunded"] == 6000


def test_only_succeeded_payments_refund(api: SpecClient, rt: Runtime) -> None:
    pending = create_payment(api, key=KEY_A3)
    failed = create_payment(api, metadata={"sim_outcome": "failed:card_declined"})
    cancelled = create_payment(api, key=KEY_A3)
    api.post(f"{FF}/payments/{cancelled['id']}/cancel", key=KEY_A3)
    rt.advance(3)
    for payment in (pending, failed, cancelled):
        resp = api.post(f"{FF}/payments/{payment['id']}/refund", key=KEY_A3, json={})
        assert resp.status_code == 409, payment
        assert resp.json["error"]["code"] == "not_succeeded"


def test_negative_or_wrongly_typed_amounts_are_400(api: SpecClient, rt: Runtime) -> None:
    pid = _paid(api, rt)
    for body in ({"amount": -1}, {"amount": "5"}, {"amount": 1.5}, {"reason": 5}):
        resp = api.post(f"{FF}/payments/{pid}/refund", json=body)
        assert resp.status_code == 400, body
