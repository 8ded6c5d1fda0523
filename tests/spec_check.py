"""Validate simulator responses against the spec documents (and supplements, when given)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from functools import cache
from typing import Any

import jsonschema

from simulator.core import spec

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", value):
            raise ValueError("not RFC 3339")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@_formats.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


@cache
def _operations(name: str) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    doc = spec.load(name)
    base = ""
    if name.endswith(".json"):  # Kaspi: paths are relative to the server's /api
        base = "/api"
    out = []
    for path, item in doc["paths"].items():
        pattern = re.compile("^" + base + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")
        for method, op in item.items():
            out.append((pattern, method.upper(), op))
    # literal paths before templated ones (/v1/invoices/status/check before /v1/invoices/{id})
    out.sort(key=lambda item: item[0].pattern.count("[^/]+"))
    return out


GLOBAL_ERRORS = {400, 401, 403, 404, 405, 413, 429}


def check(name: str, method: str, path: str, status: int, body: bytes, ctype: str) -> None:
    """Raise AssertionError when the response breaks the spec ``name``."""
    for pattern, op_method, operation in _operations(name):
        if op_method == method.upper() and pattern.match(path):
            op = operation
            break
    else:
        if status in (404, 405):
            return
        raise AssertionError(f"{method} {path}: no such operation in {name}")
    responses = op.get("responses", {})
    documented = responses.get(str(status))
    if documented is None:
        assert status in GLOBAL_ERRORS, f"{method} {path}: undocumented status {status}"
        _check_error(name, body)
        return
    content = documented.get("content")
    if not content:
        return
    if "text/event-stream" in content:
        return
    assert ctype.startswith("application/json"), f"{method} {path}: content type {ctype}"
    schema = content["application/json"].get("schema")
    if schema:
        jsonschema.Draft4Validator(schema, format_checker=_formats).validate(json.loads(body))
    if status >= 400:
        _check_error(name, body)


def _check_error(name: str, body: bytes) -> None:
    data = json.loads(body)
    if name.startswith("freefin"):
        assert isinstance(data.get("error"), dict), data
        assert isinstance(data["error"].get("code"), str), data
        assert isinstance(data["error"].get("message"), str), data
    else:
        assert isinstance(data.get("error"), str), data
        assert isinstance(data.get("message"), str), data
