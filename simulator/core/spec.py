"""Request validation from the OpenAPI documents themselves, with precompiled validators.

OpenAPI 3.0 schemas are close to JSON Schema draft 4 (integers are never floats, boolean
``exclusiveMinimum``), so draft 4 validators are used, with a ``uri`` format check.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import jsonschema_rs
import yaml

from paysim.documents import SPECS

_formats = jsonschema.FormatChecker(formats=())

# ECMA-262's WhiteSpace and LineTerminator: what a schema's \s means. Python's str.isspace
# and str.strip also take U+001C..U+001F and U+0085, which a schema's '\S' accepts.
ECMA_WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)


def has_text(value: str) -> bool:
    """Whether ``value`` matches the pattern '\\S' (a character that is not ECMA whitespace)."""
    return any(c not in ECMA_WHITESPACE for c in value)


@_formats.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if not (parts.scheme and parts.netloc) or any(c.isspace() for c in value):
        raise ValueError("not an absolute URI")
    return True


@_formats.checks("int64", raises=ValueError)
def _is_int64(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValueError("out of the int64 range")
    return True


@_formats.checks("int32", raises=ValueError)
def _is_int32(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
        raise ValueError("out of the int32 range")
    return True


@cache
def load(name: str) -> dict[str, Any]:
    """A spec document from specs/ with every local ``$ref`` inlined."""
    path = SPECS / name
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return _inline(doc, doc)


def _inline(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _inline(copy.deepcopy(target), root)
        return {k: _inline(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, root) for v in node]
    return node


def _rs_format(name: str) -> Any:
    def check(value: str) -> bool:
        try:
            return bool(_formats.conforms(value, name))
        except ValueError:
            return False

    return check


class Validator:
    """jsonschema-rs decides (about ten times faster than the Python package); the Python
    package explains, only for the rare invalid request, with its better error messages."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.explain = jsonschema.Draft4Validator(schema, format_checker=_formats)
        self.fast = jsonschema_rs.Draft4Validator(
            schema, formats={"uri": _rs_format("uri")}, validate_formats=True
        )

    def is_valid(self, instance: Any) -> bool:
        if not self.fast.is_valid(instance):
            return False
        # int64 bounds are a format on integers, which jsonschema-rs only checks on strings
        return self.explain.is_valid(instance) if _has_big_int(instance) else True


def _has_big_int(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return not -(2**31) <= value < 2**31
    if isinstance(value, dict):
        return any(_has_big_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_big_int(v) for v in value)
    return False


def validator(schema: dict[str, Any]) -> Validator:
    return Validator(schema)


def request_validator(spec: str, path: str, method: str) -> Validator:
    op = load(spec)["paths"][path][method]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    return validator(schema)


def first_error(v: Validator, instance: Any) -> tuple[str, str] | None:
    """(field path, message) of the most relevant error, or None when valid."""
    if v.is_valid(instance):
        return None
    error = jsonschema.exceptions.best_match(v.explain.iter_errors(instance))
    if error is None:  # the Python package reads patterns as Python regexes, not ECMA-262
        return "body", "does not match the schema (a pattern, read as ECMA-262)"
    field = ".".join(str(p) for p in error.absolute_path) or "body"
    message = error.message
    if error.validator == "required":
        missing = message.split("'")[1] if "'" in message else message
        field, message = missing, "is required"
    return field, message
