"""Request-body validation of the foreign freefin server, following the seed's input schemas."""

from __future__ import annotations

import re
from typing import Any

from .directory import BANK_IDS
from .errors import ApiError, bad_request

INT64_MAX = 2**63 - 1
PAYMENT_METHODS = ("sbp", "cards", "tpay", "sberpay", "recurrent", "any")
PAYMENT_TEST_STATUSES = ("pending", "processing", "succeeded", "failed", "expired")
PAYOUT_TEST_STATUSES = ("pending", "succeeded", "failed")
PHONE_RE = re.compile(r"\+7[0-9]{10}")
BANK_ID_RE = re.compile(r"[0-9]{12}")
MAX_AFTER_MS = 3_600_000


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _integer(body: dict[str, Any], name: str, minimum: int, required: bool) -> int | None:
    if name not in body:
        if required:
            raise bad_request(f"{name} is required")
        return None
    value = body[name]
    if type(value) is not int:
        raise bad_request(f"{name} must be an integer")
    if value < minimum or value > INT64_MAX:
        raise bad_request(f"{name} must be between {minimum} and {INT64_MAX}")
    return value


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str | None:
    if name not in body:
        return default
    value = body[name]
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    return value


def _enum(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _string(body, name, default)
    if value not in allowed:
        raise bad_request(f"{name} must be one of: {', '.join(allowed)}")
    return value


def payment_input(body: Any, allow_nonpositive: bool = False) -> dict[str, Any]:
    """Validate a CreatePaymentInput body and return its cleaned fields."""
    body = _object(body)
    minimum = -INT64_MAX if allow_nonpositive else 1
    data: dict[str, Any] = {"amount": _integer(body, "amount", minimum, True)}
    data["currency"] = _string(body, "currency", "RUB")
    data["method"] = _enum(body, "method", PAYMENT_METHODS, "any")
    for name in ("order_id", "customer_id", "return_url", "description", "webhook_url"):
        data[name] = _string(body, name)
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be an object")
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise bad_request(f"metadata value {key!r} must be a string")
    data["metadata"] = dict(metadata)
    return data


def payout_input(body: Any) -> dict[str, Any]:
    """Validate a CreatePayoutInput body (and the bank directory) and return its fields."""
    body = _object(body)
    data: dict[str, Any] = {"amount": _integer(body, "amount", 1, True)}
    data["currency"] = _string(body, "currency", "RUB")
    data["method"] = _enum(body, "method", ("payouts_sbp",), "payouts_sbp")
    for name, pattern, shape in (
        ("phone", PHONE_RE, "+7 and 10 digits"),
        ("bank_id", BANK_ID_RE, "12 digits"),
    ):
        value = _string(body, name)
        if value is None:
            raise bad_request(f"{name} is required")
        if not pattern.fullmatch(value):
            raise bad_request(f"{name} must be {shape}")
        data[name] = value
    data["full_name"] = _string(body, "full_name")
    if data["bank_id"] not in BANK_IDS:
        raise ApiError(422, "bank_not_supported", "the bank is not in the SBP directory")
    return data


def refund_input(body: Any) -> dict[str, Any]:
    """Validate a refund body (optional) and return ``amount`` (0 = remainder) and ``reason``."""
    body = {} if body is None else _object(body)
    amount = _integer(body, "amount", 0, False)
    return {"amount": amount or 0, "reason": _string(body, "reason")}


def parse_status(value: Any, allowed: tuple[str, ...]) -> tuple[str, str | None]:
    """Split ``"failed:reason"`` into status and reason; 422 if the status is not allowed."""
    if not isinstance(value, str):
        raise bad_request("status must be a string")
    status, _, reason = value.partition(":")
    if status not in allowed:
        raise ApiError(422, "unsupported_status", f"unsupported status {value!r}")
    return status, reason or None


def status_input(body: Any, allowed: tuple[str, ...]) -> tuple[str, str | None]:
    """Validate a test-endpoint ``{"status": ...}`` body."""
    body = _object(body)
    if "status" not in body:
        raise bad_request("status is required")
    return parse_status(body["status"], allowed)


def plan_input(body: Any) -> tuple[str, str, str | None, int]:
    """Validate a ``/testing/v1/plans`` body: (object kind, status, reason, after_ms)."""
    body = _object(body)
    kind = body.get("object")
    if kind not in ("payment", "payout"):
        raise ApiError(422, "unsupported_object", "object must be 'payment' or 'payout'")
    allowed = PAYMENT_TEST_STATUSES if kind == "payment" else PAYOUT_TEST_STATUSES
    status, reason = parse_status(body.get("status"), allowed)
    after_ms = body.get("after_ms")
    if after_ms is None:
        after_ms = 0
    if type(after_ms) is not int or not 0 <= after_ms <= MAX_AFTER_MS:
        raise bad_request(f"after_ms must be an integer between 0 and {MAX_AFTER_MS}")
    return kind, status, reason, after_ms
