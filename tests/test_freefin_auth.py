"""freefin authentication, rate limits and merchant isolation."""

from __future__ import annotations

import pytest

from tests.conftest import FF, KEY_A1, KEY_A3, KEY_B, KEY_SLOW, SpecClient, create_payment


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        (None, 401, "unauthorized"),
        ("Bearer", 401, "invalid_api_key"),
        ("Basic abc", 401, "invalid_api_key"),
        ("Bearer sk_test_rom001_wrong-secret", 401, "invalid_api_key"),
        ("Bearer sk_test_zzz999_Jq7Zt2xVw9LmN4pR", 401, "invalid_api_key"),
        ("Bearer not-a-key", 401, "invalid_api_key"),
        ("Bearer sk_live_rom001_Jq7Zt2xVw9LmN4pR", 403, "live_not_enabled"),
    ],
)
def test_bad_credentials_get_the_envelope(
    api: SpecClient, header: str | None, status: int, code: str
) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in (("GET", f"{FF}/banks/sbp"), ("POST", f"{FF}/payments")):
        resp = api.request(method, path, key=None, headers=headers, json={"amount": 1})
        assert resp.status_code == status
        assert resp.json["error"]["code"] == code


def test_merchants_never_see_each_other(api: SpecClient) -> None:
    payment = create_payment(api)
    path = f"{FF}/payments/{payment['id']}"
    assert api.get(path, key=KEY_B).status_code == 404
    assert api.post(f"{path}/cancel", key=KEY_B).status_code == 404
    assert api.post(f"{path}/refund", key=KEY_B, json={}).status_code == 404
    # another terminal of the same merchant does see it
    assert api.get(path, key=KEY_A3).status_code == 200


def test_rate_limit_answers_429_with_retry_after(api: SpecClient) -> None:
    statuses = [api.get(f"{FF}/banks/sbp", key=KEY_SLOW) for _ in range(5)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json["error"]["code"] == "rate_limited"
    # other merchants are not affected
    assert api.get(f"{FF}/banks/sbp", key=KEY_A1).status_code == 200


def test_unknown_ids_are_404_not_500(api: SpecClient) -> None:
    for path in (
        "payments/00000000-0000-0000-0000-000000000000",
        "payments/not-a-uuid",
        "payouts/00000000-0000-0000-0000-000000000000",
    ):
        resp = api.get(f"{FF}/{path}")
        assert resp.status_code == 404
        assert resp.json["error"]["code"] == "not_found"
