"""Errors, JSON coding, field validation and pagination shared by the handlers."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
PHONE_RE = re.compile(r"7[0-9]{10}")
DIGITS_RE = re.compile(r"[0-9]{1,9}")
MAX_PAGE_SIZE = 100


class ApiError(Exception):
    """An error answered with the seed's Error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def payload(self) -> dict[str, Any]:
        """Return the error body."""
        return {
            "error": self.code,
            "message": self.message,
            "details": self.details,
            "timestamp": now_iso(),
        }


def invalid(field: str, reason: str) -> ApiError:
    """Build a 400 VALIDATION_FAILED naming the field."""
    return ApiError(
        400, "VALIDATION_FAILED", f"{field}: {reason}", {"field": field, "reason": reason}
    )


def now_iso() -> str:
    """Current UTC time in ISO 8601 with milliseconds and a Z suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A fresh uuid4 string."""
    return str(uuid.uuid4())


def fmt_amount(value: Decimal) -> str:
    """Format an amount with exactly two decimals."""
    return format(value.quantize(CENT), "f")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Parse a request body; every JSON number becomes a Decimal. Raises 400 on bad input."""
    try:
        return json.loads(
            raw, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except Exception as exc:  # ValueError, RecursionError, UnicodeDecodeError, ...
        reason = type(exc).__name__
        raise ApiError(
            400, "INVALID_JSON", "request body is not valid JSON", {"reason": reason}
        ) from None


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(payload: Any) -> bytes:
    """Serialise a response payload (ASCII-escaped, so lone surrogates never fail)."""
    return json.dumps(payload, default=_default, separators=(",", ":")).encode("ascii")


def need_object(body: Any) -> dict[str, Any]:
    """Require a JSON object body."""
    if body is None:
        raise ApiError(400, "VALIDATION_FAILED", "request body is required", {"field": "body"})
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    return body


def get_amount(body: dict[str, Any], name: str = "amount", required: bool = True) -> Decimal | None:
    """A JSON number > 0 with at most two decimals and at most MAX_AMOUNT."""
    if name not in body:
        if required:
            raise invalid(name, "is required")
        return None
    value = body[name]
    if not isinstance(value, Decimal) or not value.is_finite():
        raise invalid(name, "must be a number")
    if value <= 0:
        raise invalid(name, "must be greater than 0")
    if value > MAX_AMOUNT:
        raise invalid(name, f"must not exceed {MAX_AMOUNT}")
    if value != value.quantize(CENT):
        raise invalid(name, "must have at most 2 decimal places")
    return value.quantize(CENT)


def get_number(body: dict[str, Any], name: str, low: Decimal, high: Decimal) -> Decimal | None:
    """An optional JSON number within [low, high]."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, Decimal) or not value.is_finite() or not low <= value <= high:
        raise invalid(name, f"must be a number between {low} and {high}")
    return value


def get_str(
    body: dict[str, Any], name: str, required: bool = False, max_len: int = 1000
) -> str | None:
    """An optional (or required) string of at most max_len characters."""
    if name not in body:
        if required:
            raise invalid(name, "is required")
        return None
    value = body[name]
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    if len(value) > max_len:
        raise invalid(name, f"must be at most {max_len} characters")
    if required and not value.strip():
        raise invalid(name, "must not be empty")
    return value


def get_bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    """An optional JSON boolean."""
    if name not in body:
        return default
    value = body[name]
    if not isinstance(value, bool):
        raise invalid(name, "must be a boolean")
    return value


def get_phone(body: dict[str, Any], name: str = "phone_number") -> str:
    """A required string of 11 digits starting with 7."""
    value = get_str(body, name, required=True, max_len=32)
    if value is None or not PHONE_RE.fullmatch(value):
        raise invalid(name, "must be 11 digits starting with 7")
    return value


def query_int(args: Any, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]."""
    raw = args.get(name)
    if raw is None:
        return default
    if not DIGITS_RE.fullmatch(raw) or not low <= int(raw) <= high:
        raise invalid(name, f"must be an integer between {low} and {high}")
    return int(raw)


def query_bool(args: Any, name: str) -> bool | None:
    """An optional true/false query parameter."""
    raw = args.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(name, "must be true or false")
    return raw == "true"


def paginate(items: Sequence[Any], args: Any, ignore_size: bool = False) -> dict[str, Any]:
    """Return {"data", "meta"} for one page of items (already ordered)."""
    page = query_int(args, "page", 1, 1, 1_000_000)
    size = query_int(args, "page_size", 20, 1, MAX_PAGE_SIZE)
    step = MAX_PAGE_SIZE if ignore_size else size
    start = (page - 1) * step
    data = list(items[start : start + step])
    return {"data": data, "meta": {"page": page, "page_size": size, "total": len(items)}}
