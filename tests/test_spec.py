"""Request validation from the seed documents: one fast validator decides, the other explains."""

from __future__ import annotations

from simulator.core.spec import first_error, has_text, validator

SCHEMA = {
    "type": "object",
    "required": ["amount", "url"],
    "properties": {
        "amount": {"type": "integer", "format": "int64", "minimum": 1},
        "url": {"type": "string", "format": "uri"},
    },
}


URL = "https://shop.example/hook"


def test_a_valid_body_has_no_error() -> None:
    assert first_error(validator(SCHEMA), {"amount": 100, "url": URL}) is None


def field(body: dict[str, object]) -> str | None:
    """The field the first error names, or None when the body is valid."""
    error = first_error(validator(SCHEMA), body)
    return error[0] if error else None


def test_the_first_error_names_the_field() -> None:
    assert first_error(validator(SCHEMA), {"url": URL}) == ("amount", "is required")
    assert field({"amount": "1", "url": URL}) == "amount"
    assert field({"amount": 1, "url": "not a uri"}) == "url"


def test_int64_bounds_hold_beyond_what_the_fast_validator_sees() -> None:
    assert field({"amount": 2**63, "url": URL}) == "amount"
    assert field({"amount": 2**62, "url": URL}) is None


def test_text_is_any_character_that_is_not_ecma_whitespace() -> None:
    assert has_text(" a ")
    assert not has_text("\u00a0\u2003\ufeff\t")
