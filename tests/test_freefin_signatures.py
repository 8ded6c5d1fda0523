"""freefin request signatures: required, voluntary, and every way to get one wrong."""

from __future__ import annotations

import json

import pytest

from simulator.core.signing import sign
from tests.conftest import FF, KEY_A1, KEY_A2, SECRET_A1, SECRET_A2, SpecClient

RAW = json.dumps({"amount": 150000, "order_id": "SIG-1"}).encode()


def _post(api: SpecClient, key: str, raw: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Freefin-Signature"] = signature
    return api.post(f"{FF}/payments", key=key, data=raw, headers=headers)


def test_required_signature_missing(api: SpecClient) -> None:
    resp = _post(api, KEY_A2, RAW, None)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "signature_required"


def test_right_signature_passes(api: SpecClient) -> None:
    assert _post(api, KEY_A2, RAW, sign(SECRET_A2, RAW)).status_code == 201
    assert _post(api, KEY_A1, RAW, sign(SECRET_A1, RAW)).status_code == 201  # voluntary


@pytest.mark.parametrize(
    "signature",
    [
        sign("another-secret", RAW),
        sign(SECRET_A2, RAW + b" "),  # tampered body
        sign(SECRET_A2, json.dumps(json.loads(RAW), indent=2).encode()),  # re-serialized
        sign(SECRET_A2, RAW).replace("sha256=", "sha1="),
        sign(SECRET_A2, RAW).upper().replace("SHA256=", "sha256="),
        sign(SECRET_A2, b""),
        "",
        "sha256=",
    ],
)
def test_wrong_signatures_are_invalid(api: SpecClient, signature: str) -> None:
    resp = _post(api, KEY_A2, RAW, signature)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_signature"


def test_voluntary_signature_is_checked_too(api: SpecClient) -> None:
    resp = _post(api, KEY_A1, RAW, sign("nope", RAW))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_signature"


def test_empty_body_with_a_signature_of_another_body(api: SpecClient) -> None:
    resp = _post(api, KEY_A2, b"", sign(SECRET_A2, RAW))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_signature"
