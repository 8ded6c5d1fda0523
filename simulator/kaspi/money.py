"""Tenge amounts: integers of tiyn inside, ``"10000.00"`` at the edge, parsed without floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from simulator.core.errors import ApiError

CURRENCY = "KZT"
MAX_TIYN = 100_000_000_000  # 1 000 000 000.00 KZT, far above any Kaspi limit


def validation_error(field: str, message: str) -> ApiError:
    return ApiError(
        f"{field}: {message}",
        code="validation_error",
        status=400,
        details={"fields": {field: message}},
    )


def to_tiyn(value: object, field: str = "amount") -> int:
    """A JSON number of tenge with at most two decimals, > 0, as tiyn; 400 otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise validation_error(field, "must be a number")
    try:
        # repr() of a float is its shortest round-trip text: 100.1 stays exactly 100.1
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise validation_error(field, "must be a finite number") from None
    if not amount.is_finite():
        raise validation_error(field, "must be a finite number")
    tiyn = amount * 100
    if tiyn != tiyn.to_integral_value():
        raise validation_error(field, "at most two decimals (tiyn)")
    if tiyn <= 0:
        raise validation_error(field, "must be greater than 0")
    if tiyn > MAX_TIYN:
        raise validation_error(field, "must not exceed 1000000000.00")
    return int(tiyn)


def render(tiyn: int) -> str:
    """12345 -> "123.45" (always two decimals)."""
    sign = "-" if tiyn < 0 else ""
    whole, frac = divmod(abs(tiyn), 100)
    return f"{sign}{whole}.{frac:02d}"
