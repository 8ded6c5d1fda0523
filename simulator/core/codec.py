"""JSON text out: orjson where it can, the standard library where it cannot.

Every stored document, event and response body is serialised here. orjson writes the same
compact UTF-8 JSON about four times faster; it refuses integers beyond 64 bits (which the APIs'
strict parser still admits inside metadata), and those go through ``json`` instead. Reading
stays with ``json``: orjson would turn such integers into floats.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``, non-ASCII kept as is."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: a 65-bit integer, a non-string key
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumpb(value: Any) -> bytes:
    """``dumps`` as UTF-8 bytes (a body to send or sign)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
