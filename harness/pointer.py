"""JSON pointers (RFC 6901) into the seed and supplement documents."""

from __future__ import annotations

from typing import Any


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def resolve(doc: Any, pointer: str) -> Any:
    """The value at a JSON pointer; KeyError naming the first part that is not there."""
    value = doc
    for raw in pointer.split("/")[1:]:
        part = _unescape(raw)
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, dict) and part.isdigit() and int(part) in value:
            value = value[int(part)]  # YAML keys such as 400 are integers
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(f"no {part!r} at {pointer}")
    return value
