"""JSON Schemas of the control API's request bodies: checked before anything is applied.

A control call that stored an ill-typed fault, a NaN clock offset or a retry schedule of
strings would break every later request of the simulated APIs; these schemas refuse them with
a 400 instead.
"""

from __future__ import annotations

from typing import Any

from simulator.core import spec
from simulator.core.errors import BadRequest

_SECONDS_MAX = 100 * 365 * 86_400  # the clock moves by at most a century at a time
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_TEXT = {"type": "string", "minLength": 1, "maxLength": 500}

ADVANCE = {
    "type": "object",
    "required": ["seconds"],
    "additionalProperties": False,
    "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": _SECONDS_MAX}},
}
OUTCOME = {
    "type": "object",
    "required": ["api", "object", "outcome"],
    "additionalProperties": False,
    "properties": {
        "api": _TEXT,
        "object": _TEXT,
        "outcome": _TEXT,
        "merchant": _TEXT,
        "delay_ms": {"type": "integer", "minimum": 0, "maximum": 86_400_000},
    },
}
TRANSITION = {
    "type": "object",
    "required": ["api", "object", "id", "status"],
    "additionalProperties": False,
    "properties": {
        "api": _TEXT,
        "object": _TEXT,
        "id": _TEXT,
        "status": _TEXT,
        "reason": {"type": ["string", "null"], "maxLength": 100},
    },
}
FAULT = {
    "type": "object",
    "required": ["path", "kind"],
    "additionalProperties": False,
    "properties": {
        "path": _TEXT,
        "kind": {"enum": ["latency", "status", "drop"]},
        "method": {"enum": _METHODS + [m.lower() for m in _METHODS]},
        "latency_ms": {"type": "integer", "minimum": 0, "maximum": 120_000},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "count": {"type": ["integer", "null"], "minimum": 1},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "when": {"enum": ["before", "after"]},
        "retry_after": {"type": "integer", "minimum": 0, "maximum": 3600},
    },
}
RESET = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"client_log": {"type": "boolean"}},  # also clear the client log and exam
}
CHAOS: dict[str, Any] = {
    "type": "object",
    "required": ["profile"],
    "additionalProperties": False,
    "properties": {"profile": {"enum": ["none", "flaky", "hostile"]}},
}
WEBHOOK_CONFIG = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "retry_schedule": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {"type": "number", "minimum": 0, "maximum": 30 * 86_400},
        },
        "timeout_s": {"type": "number", "minimum": 0.001, "maximum": 300},
    },
}
ENDPOINT = {
    "type": "object",
    "required": ["api", "terminal_id"],
    "additionalProperties": False,
    "properties": {
        "api": {"enum": ["freefin"]},
        "terminal_id": _TEXT,
        "url": {"type": ["string", "null"], "maxLength": 2000},
    },
}
DEFECTS = {
    "type": "object",
    "required": ["enable"],
    "additionalProperties": False,
    "properties": {"enable": {"type": "array", "items": _TEXT}},
}
SCRIPT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "defects": {"type": "array", "items": _TEXT},
        "faults": {"type": "array", "items": FAULT},
        "outcomes": {"type": "array", "items": OUTCOME},
        "webhooks": WEBHOOK_CONFIG,
    },
}

_validators: dict[int, spec.Validator] = {}


def check(schema: dict[str, Any], body: Any) -> dict[str, Any]:
    """``body`` when it satisfies ``schema``; a 400 naming the first offending field if not."""
    validator = _validators.get(id(schema))
    if validator is None:
        validator = _validators[id(schema)] = spec.validator(schema)
    error = spec.first_error(validator, body)
    if error:
        raise BadRequest(f"{error[0]}: {error[1]}")
    return body
