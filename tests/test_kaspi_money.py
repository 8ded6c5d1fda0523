"""Tenge amounts: integers of tiyn inside, "10000.00" at the edge, no float ever rounded."""

from __future__ import annotations

import pytest

from simulator.core.errors import ApiError
from simulator.kaspi.money import render, to_tiyn


@pytest.mark.parametrize(
    ("value", "tiyn"), [(100, 10000), (100.1, 10010), (0.29, 29), (1_000_000_000, 100_000_000_000)]
)
def test_tenge_become_exact_tiyn(value: object, tiyn: int) -> None:
    assert to_tiyn(value) == tiyn


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("100", "must be a number"),
        (True, "must be a number"),
        (float("inf"), "must be a finite number"),
        (1.005, "at most two decimals (tiyn)"),
        (0, "must be greater than 0"),
        (-5, "must be greater than 0"),
        (1_000_000_000.01, "must not exceed 1000000000.00"),
    ],
)
def test_what_is_not_an_amount_is_a_validation_error(value: object, why: str) -> None:
    with pytest.raises(ApiError) as caught:
        to_tiyn(value, "price")
    assert caught.value.code == "validation_error"
    assert caught.value.details == {"fields": {"price": why}}


def test_tiyn_are_rendered_with_two_decimals() -> None:
    assert [render(t) for t in (12345, 5, 100, 0, -250)] == [
        "123.45",
        "0.05",
        "1.00",
        "0.00",
        "-2.50",
    ]
