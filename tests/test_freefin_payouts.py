"""freefin SBP payouts and the bank directory."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.core.runtime import Runtime
from tests.conftest import FF, SpecClient

GOOD = {
    "amount": 250000,
    "phone": "+79001234567",
    "bank_id": "100000000111",
    "full_name": "Иванов Иван Иванович",
}


def test_bank_directory_has_thirty_participants(api: SpecClient) -> None:
    items = api.get(f"{FF}/banks/sbp").json["items"]
    assert len(items) == 30
    assert len({b["member_id"] for b in items}) == 30
    assert {"member_id": "100000000111", "name": "Сбербанк", "name_en": "Sberbank"} in items


@pytest.mark.parametrize(
    "change",
    [
        {"phone": "89001234567"},
        {"phone": "+7900123456"},
        {"bank_id": "12345"},
        {"amount": 0},
        {"method": "cards"},
        {"amount": None},
    ],
)
def test_invalid_payouts_are_400(api: SpecClient, change: dict[str, Any]) -> None:
    resp = api.post(f"{FF}/payouts", json={**GOOD, **change})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_request"


def test_bank_outside_the_directory_is_422(api: SpecClient) -> None:
    resp = api.post(f"{FF}/payouts", json={**GOOD, "bank_id": "999999999999"})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "bank_not_supported"


def test_payout_succeeds_on_the_clock(api: SpecClient, rt: Runtime) -> None:
    created = api.post(f"{FF}/payouts", json=GOOD).json
    assert created["payout"]["status"] == "pending" and created["mode"] == "test"
    rt.advance(1)
    got = api.get(f"{FF}/payouts/{created['payout']['id']}").json
    assert got["status"] == "succeeded" and got["completed_at"]
    assert got["recipient"] == {k: GOOD[k] for k in ("phone", "bank_id", "full_name")}


def test_magic_phone_fails_with_a_reason(api: SpecClient, rt: Runtime) -> None:
    created = api.post(f"{FF}/payouts", json={**GOOD, "phone": "+79990000001"}).json
    rt.advance(2)
    got = api.get(f"{FF}/payouts/{created['payout']['id']}").json
    assert got["status"] == "failed" and got["fail_reason"] == "recipient_not_found"
