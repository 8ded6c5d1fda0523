"""Simple path expressions into JSON bodies: ``payment.refunds[0].amount``, ``items[*].id``.

``$`` (or an empty path) is the whole value; ``[-1]`` is the last item; ``[*]`` maps the rest of
the path over a list and gives a list back. A missing key or index gives :data:`MISSING`.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+|\*)\]")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def parse(path: str) -> list[str | int]:
    """Split a path into keys (str), indexes (int) and ``*``; ValueError when malformed."""
    if path in ("", "$"):
        return []
    path = path.removeprefix("$.").removeprefix("$")
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match or match.end() == pos:
            raise ValueError(f"bad path expression {path!r} at position {pos}")
        key, index = match.groups()
        if key is not None:
            parts.append(key)
        else:
            parts.append("*" if index == "*" else int(index))
        pos = match.end()
    return parts


def _get(value: Any, parts: list[str | int]) -> Any:
    for i, part in enumerate(parts):
        if part == "*":
            if not isinstance(value, list):
                return MISSING
            return [_get(item, parts[i + 1 :]) for item in value]
        if isinstance(part, int):
            if not isinstance(value, list) or not -len(value) <= part < len(value):
                return MISSING
            value = value[part]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return MISSING
    return value


def get(value: Any, path: str) -> Any:
    """The value at ``path`` in ``value``, or MISSING."""
    return _get(value, parse(path))
