"""``{{ ... }}`` templates in scenario values: saved values and generated data.

``{{ pay.payment.id }}`` reads a saved value (a path into it); ``{{ $uuid }}`` is a fresh UUID
at each use, ``{{ $unique }}`` a fresh short unique string; other ``$names`` come from the
runner (``$webhook_url``; ``$webhooks``, the target profile's webhooks part).
``{{ $code.NAME }}`` and ``{{ $event.NAME }}`` are the target
profile's names for the supplement's error code and event kind NAME (NAME itself by default).
A string that is exactly one template keeps the value's type, so ``amount: "{{ total }}"``
stays an integer.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from harness.scenarios import paths

_TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class TemplateError(Exception):
    """A template names a value that does not exist."""


@dataclasses.dataclass(frozen=True)
class Unavailable:
    """A saved value the target did not give, where only a non-binding source promised it."""

    name: str
    source: str


class NeedsUnavailable(Exception):
    """A template reads an :class:`Unavailable` value: the step that needs it cannot run."""

    def __init__(self, value: Unavailable) -> None:
        super().__init__(value.name)
        self.value = value


def _generated(name: str) -> Any:
    if name == "$uuid":
        return str(uuid.uuid4())
    if name == "$unique":
        return "sc-" + uuid.uuid4().hex[:16]
    return paths.MISSING


def lookup(expr: str, variables: Mapping[str, Any]) -> Any:
    """The value of one template expression."""
    for prefix, table in (("$code.", "$codes"), ("$event.", "$events")):
        if expr.startswith(prefix):
            name = expr[len(prefix) :]
            return variables.get(table, {}).get(name, name)
    value = _generated(expr)
    if value is not paths.MISSING:
        return value
    head = re.match(r"\$?[A-Za-z_][A-Za-z0-9_]*", expr)
    if not head or head.group(0) not in variables:
        known = ", ".join(sorted(variables)) or "none"
        raise TemplateError(f"unknown value {{{{ {expr} }}}} (known: {known})")
    saved = variables[head.group(0)]
    if isinstance(saved, Unavailable):
        raise NeedsUnavailable(saved)
    value = paths.get(saved, expr[head.end() :])
    if value is paths.MISSING:
        raise TemplateError(f"{{{{ {expr} }}}}: no such path in the saved value")
    return value


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every template replaced, recursively through lists and mappings."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            return lookup(whole.group(1), variables)

        def text(match: re.Match[str]) -> str:
            found = lookup(match.group(1), variables)
            return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)

        return _TEMPLATE.sub(text, value)
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    if isinstance(value, dict):
        return {render(k, variables): render(v, variables) for k, v in value.items()}
    return value
