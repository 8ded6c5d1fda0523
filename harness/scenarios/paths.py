"""Simple path expressions into JSON bodies: ``payment.refunds[0].amount``, ``items[*].id``,
``items[?event_id=evt_1][0].id`` (the items whose field has that value).

``$`` (or an empty path) is the whole value; ``[-1]`` is the last item; ``[*]`` maps the rest of
the path over a list and gives a list back. A missing key or index gives :data:`MISSING`.

Aliases name what the seeds leave loose: ``@items`` is a list response's items, ``@total`` its
total count, ``@object`` the object an event is about, where the target profile says
(:func:`use_aliases`). Without a profile ``@items`` is the body itself when it is an array, else
its only array member; ``@object`` the first of ``payload``, ``data.object``, ``data`` that is an
object; ``@total`` is missing.
"""

from __future__ import annotations

import contextvars
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

_NO_ALIASES: Mapping[str, str] = {}
_ALIASES: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "paysim_path_aliases", default=_NO_ALIASES
)
_ALIAS = re.compile(r"^@([a-z_]+)")

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+|\*)\]|\[\?([^=\[\]]+)=([^\]]*)\]")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclasses.dataclass(frozen=True)
class Filter:
    """``[?field=value]``: the items of a list whose ``field`` is ``value`` (compared as text)."""

    field: str
    value: str


def parse(path: str) -> list[str | int | Filter]:
    """Split a path into keys (str), indexes (int) and ``*``; ValueError when malformed."""
    if path in ("", "$"):
        return []
    path = path.removeprefix("$.").removeprefix("$")
    parts: list[str | int | Filter] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match or match.end() == pos:
            raise ValueError(f"bad path expression {path!r} at position {pos}")
        key, index, field, wanted = match.groups()
        if key is not None:
            parts.append(key)
        elif field is not None:
            parts.append(Filter(field, wanted))
        else:
            parts.append("*" if index == "*" else int(index))
        pos = match.end()
    return parts


def _get(value: Any, parts: list[str | int | Filter]) -> Any:
    for i, part in enumerate(parts):
        if isinstance(part, Filter):
            if not isinstance(value, list):
                return MISSING
            value = [
                item
                for item in value
                if isinstance(item, dict) and str(item.get(part.field, MISSING)) == part.value
            ]
            continue
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


def use_aliases(aliases: Mapping[str, str]) -> contextvars.Token[Mapping[str, str]]:
    """Resolve ``@name`` paths with these (``{"items": "data", "total": "meta.total"}``)."""
    return _ALIASES.set(dict(aliases))


def reset_aliases(token: contextvars.Token[Mapping[str, str]]) -> None:
    """Back to the aliases before :func:`use_aliases`."""
    _ALIASES.reset(token)


def _only_list(value: Any) -> str | None:
    if isinstance(value, list):
        return "$"
    if isinstance(value, dict):
        lists = [k for k, v in value.items() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return None


_OBJECT_PATHS = ("payload", "data.object", "data")


def _event_object(value: Any) -> str | None:
    """Where an event body keeps its object: the first of ``payload``, ``data.object``,
    ``data`` that is an object."""
    for path in _OBJECT_PATHS:
        found = _get(value, parse(path))
        if isinstance(found, dict):
            return path
    return None


def expand(value: Any, path: str) -> str | None:
    """``path`` with a leading ``@alias`` replaced (None when the alias finds nothing)."""
    match = _ALIAS.match(path)
    if not match:
        return path
    name, rest = match.group(1), path[match.end() :]
    base = _ALIASES.get().get(name)
    if base is None and name == "items":
        base = _only_list(value)
    if base is None and name == "object":
        base = _event_object(value)
    if base is None:
        return None
    if base == "$":
        return rest.removeprefix(".") or "$"
    return base + rest


def get(value: Any, path: str) -> Any:
    """The value at ``path`` in ``value``, or MISSING."""
    expanded = expand(value, path)
    if expanded is None:
        return MISSING
    return _get(value, parse(expanded))
