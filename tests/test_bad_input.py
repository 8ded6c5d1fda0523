"""Bad input of every kind gets the API's own envelope and a 4xx, never a 500, and changes nothing.

Each case here once reached a 500 or a 2xx: JSON that Python's parser takes and RFC 8259 does
not (lone surrogates, NaN, 4,300-digit integers, deep nesting, UTF-16), patterns read as Python
regexes instead of ECMA-262, and control calls that stored values breaking later requests.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator.core.runtime import Runtime
from tests.conftest import FF, KEY_A1, SpecClient

KP_KEY = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"
JSON = {"Content-Type": "application/json"}
FFH = {**JSON, "Authorization": f"Bearer {KEY_A1}"}
KPH = {**JSON, "X-API-Key": KP_KEY}

BAD_JSON = {
    "lone surrogate": b'{"amount": 1000, "description": "\\ud800"}',
    "4,300+ digit integer": b'{"amount": 1' + b"0" * 5000 + b"}",
    "nested 10,000 deep": b"[" * 10_000 + b"]" * 10_000,
    "nested 330 deep in a field": b'{"amount": 1000, "x": ' + b"[" * 330 + b"]" * 330 + b"}",
    "NaN": b'{"amount": 1000, "x": NaN}',
    "Infinity": b'{"amount": 1000, "x": Infinity}',
    "1e400": b'{"amount": 1000, "x": 1e400}',
    "UTF-16": '{"amount": 1000}'.encode("utf-16"),
}
CREATES = {
    "freefin payment": (f"{FF}/payments", FFH),
    "freefin payout": (f"{FF}/payouts", FFH),
    "kaspi invoice": ("/api/v1/invoices", KPH),
    "kaspi qr": ("/api/v1/qr", KPH),
    "kaspi webhook": ("/api/v1/webhooks", KPH),
    "kaspi catalog": ("/api/v1/catalog", KPH),
    "kaspi status check": ("/api/v1/invoices/status/check", KPH),
    "control script": ("/_sim/script", JSON),
}


def assert_envelope(path: str, resp: Any, status: int = 400) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    if path.startswith(FF) or path.startswith("/_sim"):
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    else:
        assert {"error", "message", "details", "timestamp"} <= set(body)


@pytest.mark.parametrize("kind", BAD_JSON)
@pytest.mark.parametrize("where", CREATES)
def test_json_outside_rfc_8259_is_a_400(
    api: SpecClient, rt: Runtime, where: str, kind: str
) -> None:
    path, headers = CREATES[where]
    resp = api.client.post(path, headers=headers, data=BAD_JSON[kind])
    assert_envelope(path, resp)
    with rt.store.read() as tx:
        assert tx.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0


@pytest.mark.parametrize("phone", ["+79001234567\n", "+7٠٠١٢٣٤٥٦٧٨", "+7９００１２３４５６７"])
def test_payout_phone_pattern_is_ecma_262(api: SpecClient, phone: str) -> None:
    body = {"amount": 1000, "phone": phone, "bank_id": "100000000111"}
    assert_envelope(FF, api.post(f"{FF}/payouts", json=body))


@pytest.mark.parametrize("phone", ["77011234567\n", "7٧٠١١٢٣٤٥٦٧", "7７０１１２３４５６７"])
@pytest.mark.parametrize("path", ["/api/v1/invoices", "/api/v1/subscriptions"])
def test_kaspi_phone_is_ascii_digits(api: SpecClient, path: str, phone: str) -> None:
    body = {"amount": 100, "phone_number": phone, "billing_period": "monthly"}
    assert_envelope(path, api.post(path, key=None, headers={"X-API-Key": KP_KEY}, json=body))


@pytest.mark.parametrize("page", ["1_0", "１", " 1"])
def test_kaspi_page_is_plain_digits(api: SpecClient, page: str) -> None:
    resp = api.get(f"/api/v1/invoices?page={page}", key=None, headers={"X-API-Key": KP_KEY})
    assert_envelope("/api", resp)


@pytest.mark.parametrize("path", [f"{FF}/banks/sbp", "/api/v1/me", "/_sim/reset"])
def test_oversized_body_is_413_even_where_no_body_is_read(api: SpecClient, path: str) -> None:
    method = "POST" if path.endswith("reset") else "GET"
    headers = {**FFH, "X-API-Key": KP_KEY}
    resp = api.client.open(path, method=method, headers=headers, data=b"x" * 200_000)
    assert_envelope(path, resp, 413)


@pytest.mark.parametrize("resume", ["9223372036854775808", str(10**30), "-1", "１"])
def test_sse_resume_out_of_range_is_a_400(api: SpecClient, resume: str) -> None:
    resp = api.get(f"{FF}/events", headers={"Last-Event-ID": resume})
    assert_envelope(FF, resp)


CONTROL = [
    ("/_sim/clock/advance", {"seconds": 1e308}),
    ("/_sim/clock/advance", {"seconds": 10**12}),
    (
        "/_sim/outcomes",
        {"api": "freefin", "object": "payment", "outcome": "succeeded", "delay_ms": True},
    ),
    (
        "/_sim/outcomes",
        {"api": "freefin", "object": "payment", "outcome": "succeeded", "merchant": {"a": 1}},
    ),
    ("/_sim/faults", {"path": "banks", "kind": "latency", "latency_ms": "abc"}),
    ("/_sim/faults", {"path": "banks", "kind": "latency", "latency_ms": -5}),
    ("/_sim/faults", {"path": "banks", "kind": "status", "count": "abc"}),
    ("/_sim/faults", {"path": "banks", "kind": "status", "method": 5}),
    ("/_sim/faults", {"path": "banks", "kind": "status", "status": 500.5}),
    ("/_sim/webhooks/config", {"timeout_s": True}),
    ("/_sim/webhooks/config", {"retry_schedule": [True]}),
    (
        "/_sim/transition",
        {
            "api": "freefin",
            "object": "payment",
            "id": "x",
            "status": "failed",
            "reason": {"x": [1]},
        },
    ),
    ("/_sim/script", {"webhooks": {"retry_schedule": "abc"}}),
    ("/_sim/script", {"webhooks": {"timeout_s": -1}}),
    ("/_sim/script", {"defects": {"freefin.wrong_type": 1}}),
]


@pytest.mark.parametrize(("path", "body"), CONTROL)
def test_control_refuses_values_that_would_break_later_requests(
    api: SpecClient, path: str, body: dict[str, Any]
) -> None:
    assert_envelope(path, api.client.post(path, json=body))
    assert api.client.get("/_sim/clock").status_code == 200
    assert api.client.get("/_sim/faults").get_json()["faults"] == []
    assert api.get(f"{FF}/banks/sbp").status_code == 200
    assert api.post(f"{FF}/payments", json={"amount": 1000}).status_code == 201


@pytest.mark.parametrize(
    "script",
    [
        {"defects": ["freefin.wrong_type"], "outcomes": [1]},
        {"defects": ["freefin.wrong_type"], "faults": [{"path": "(", "kind": "drop"}]},
        {
            "defects": ["freefin.wrong_type"],
            "outcomes": [{"api": "freefin", "object": "payment", "outcome": "bogus"}],
        },
        {"defects": ["freefin.wrong_type", "no.such.defect"]},
    ],
)
def test_a_bad_script_changes_nothing(api: SpecClient, script: dict[str, Any]) -> None:
    assert_envelope("/_sim", api.client.post("/_sim/script", json=script))
    assert api.client.get("/_sim/defects").get_json()["active"] == []
    assert api.client.get("/_sim/outcomes").get_json()["queued"] in ([], {})
