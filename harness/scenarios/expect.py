"""Expectations: exact values and ``$``-matchers on paths, statuses, headers and JSON Schema.

A value under a path is compared exactly, unless it is a mapping whose keys all start with
``$``: then each is a matcher (``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$in``,
``$not_in``, ``$matches``, ``$exists``, ``$len``, ``$contains``, ``$mentions`` (the value is
held anywhere inside), ``$type``, ``$schema``, and on lists ``$some`` / ``$every`` item
matching ``{path: value-or-matcher}``).
Each check returns a list of readable mismatches; empty means it holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema

from harness.scenarios import paths

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def show(value: Any) -> str:
    """A short JSON rendering for messages."""
    if value is paths.MISSING:
        return "<missing>"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:300] + "…"


def is_matcher(spec: Any) -> bool:
    """True when ``spec`` is a ``{$op: ...}`` mapping rather than an exact value."""
    return isinstance(spec, dict) and bool(spec) and all(str(k).startswith("$") for k in spec)


def _compare(op: str, actual: Any, arg: Any) -> bool:
    try:
        return {
            "$gt": lambda: actual > arg,
            "$gte": lambda: actual >= arg,
            "$lt": lambda: actual < arg,
            "$lte": lambda: actual <= arg,
        }[op]()
    except TypeError:
        return False


def _mentions(value: Any, wanted: Any) -> bool:
    """Whether ``wanted`` is ``value`` or a value held anywhere inside it."""
    if isinstance(value, dict):
        return any(_mentions(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, wanted) for v in value)
    return value == wanted and isinstance(value, bool) == isinstance(wanted, bool)


def match(actual: Any, spec: Any) -> str | None:
    """None when ``actual`` satisfies ``spec``; else why not."""
    if not is_matcher(spec):
        # 1 == True in Python; a JSON true is not the number 1.
        if (
            actual is paths.MISSING
            or actual != spec
            or (isinstance(actual, bool) != isinstance(spec, bool))
        ):
            return f"expected {show(spec)}, got {show(actual)}"
        return None
    for op, arg in spec.items():
        ok: bool
        if op == "$exists":
            ok = (actual is not paths.MISSING) == bool(arg)
        elif actual is paths.MISSING:
            ok = False
        elif op == "$eq":
            ok = match(actual, arg) is None
        elif op == "$ne":
            ok = actual != arg
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            ok = _compare(op, actual, arg)
        elif op == "$in":
            ok = actual in arg
        elif op == "$not_in":
            ok = actual not in arg
        elif op == "$matches":
            ok = isinstance(actual, str) and re.search(arg, actual) is not None
        elif op == "$len":
            ok = hasattr(actual, "__len__") and match(len(actual), arg) is None
        elif op == "$contains":
            ok = isinstance(actual, list | str | dict) and arg in actual
        elif op == "$mentions":
            ok = _mentions(actual, arg)
        elif op == "$type":
            ok = _TYPES[arg](actual)
        elif op in ("$some", "$every"):
            # each item is checked like a body: {path: value-or-matcher}
            if not isinstance(actual, list):
                ok = False
            else:
                hits = [not check_body(item, arg) for item in actual]
                ok = any(hits) if op == "$some" else all(hits)
        elif op == "$schema":
            ok = schema_errors(actual, arg) == []
        else:
            return f"unknown matcher {op}"
        if not ok:
            return f"expected {op} {show(arg)}, got {show(actual)}"
    return None


def schema_errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Readable JSON Schema violations of ``value``."""
    cls = jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(value), key=lambda e: list(map(str, e.path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in errors[:5]]


def check_body(body: Any, spec: Mapping[str, Any]) -> list[str]:
    """Mismatches of ``path -> value/matcher`` against a parsed body."""
    problems = []
    for path, want in spec.items():
        why = match(paths.get(body, path), want)
        if why:
            problems.append(f"body {path}: {why}")
    return problems


def check_status(status: int, want: int | list[int]) -> list[str]:
    """A mismatch when ``status`` is not the expected one (or one of them)."""
    allowed = want if isinstance(want, list) else [want]
    return [] if status in allowed else [f"status: expected {show(want)}, got {status}"]


def check_headers(headers: Mapping[str, str], spec: Mapping[str, Any]) -> list[str]:
    """Mismatches of header -> value/matcher (header names are case-insensitive)."""
    lower = {k.lower(): v for k, v in headers.items()}
    problems = []
    for name, want in spec.items():
        why = match(lower.get(name.lower(), paths.MISSING), want)
        if why:
            problems.append(f"header {name}: {why}")
    return problems
