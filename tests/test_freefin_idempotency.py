"""freefin Idempotency-Key: replay, conflict, scope, length, expiry, failed first attempts."""

from __future__ import annotations

from simulator.core.runtime import Runtime
from tests.conftest import FF, KEY_A1, KEY_A3, KEY_B, SpecClient, create_payment

BODY = {"amount": 150000, "order_id": "ORDER-7"}


def _create(api: SpecClient, key: str, body: dict[str, object] = BODY, term: str = KEY_A1):
    return api.post(f"{FF}/payments", key=term, json=body, headers={"Idempotency-Key": key})


def test_replay_returns_the_first_object_with_200(api: SpecClient) -> None:
    first = _create(api, "k-1")
    again = _create(api, "k-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["idempotent"] is True and first.json["idempotent"] is False
    assert again.json["payment"]["id"] == first.json["payment"]["id"]


def test_same_key_other_body_is_409(api: SpecClient) -> None:
    _create(api, "k-2")
    resp = _create(api, "k-2", {**BODY, "amount": 1})
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "idempotent_conflict"


def test_keys_are_scoped_per_terminal_and_operation(api: SpecClient) -> None:
    a = _create(api, "shared").json["payment"]["id"]
    b = _create(api, "shared", term=KEY_A3).json["payment"]["id"]
    c = _create(api, "shared", term=KEY_B).json["payment"]["id"]
    assert len({a, b, c}) == 3
    payout = api.post(
        f"{FF}/payouts",
        json={"amount": 100, "phone": "+79001234567", "bank_id": "100000000111"},
        headers={"Idempotency-Key": "shared"},
    )
    assert payout.status_code == 201


def test_key_longer_than_64_is_400(api: SpecClient) -> None:
    assert _create(api, "x" * 64).status_code == 201
    resp = _create(api, "x" * 65)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_request"


def test_a_rejected_request_does_not_burn_the_key(api: SpecClient) -> None:
    bad = _create(api, "k-3", {"amount": 0})
    assert bad.status_code == 400
    assert _create(api, "k-3").status_code == 201


def test_keys_expire(api: SpecClient, rt: Runtime) -> None:
    first = _create(api, "k-4").json["payment"]["id"]
    rt.advance(rt.idempotency_ttl_s + 1)
    again = _create(api, "k-4")
    assert again.status_code == 201 and again.json["payment"]["id"] != first


def test_an_expired_key_not_yet_pruned_is_claimed_afresh(api: SpecClient, rt: Runtime) -> None:
    first = _create(api, "k-5").json["payment"]["id"]
    rt.clock.advance(rt.idempotency_ttl_s + 1)  # the clock alone: no prune has run
    with rt.store.read() as tx:
        assert tx.execute("SELECT COUNT(*) FROM idempotency WHERE key='k-5'").fetchone()[0] == 1
    again = _create(api, "k-5")
    assert again.status_code == 201 and again.json["payment"]["id"] != first
    assert _create(api, "k-5").json["payment"]["id"] == again.json["payment"]["id"]


def test_refund_replay_and_conflict(api: SpecClient, rt: Runtime) -> None:
    payment = create_payment(api)
    rt.advance(3)
    path = f"{FF}/payments/{payment['id']}/refund"
    one = api.post(path, json={"amount": 100}, headers={"Idempotency-Key": "r-1"})
    two = api.post(path, json={"amount": 100}, headers={"Idempotency-Key": "r-1"})
    assert one.status_code == two.status_code == 201
    assert one.json["id"] == two.json["id"]
    got = api.get(f"{FF}/payments/{payment['id']}").json
    assert got["amount_refunded"] == 100 and len(got["refunds"]) == 1
    conflict = api.post(path, json={"amount": 200}, headers={"Idempotency-Key": "r-1"})
    assert conflict.status_code == 409
