"""What each API lets the control API drive: its objects' outcomes and forced transitions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from simulator.core.lifecycle import Lifecycle

Transition = Callable[[str, str, "str | None"], Mapping[str, Any]]


@dataclass(frozen=True)
class Controllable:
    api: str
    object: str
    outcomes: tuple[str, ...]
    transition: Transition
    default_delay_ms: int = 2000
    lifecycle: Lifecycle | None = None  # what may follow what (the dashboard offers only that)
    via: str | None = None  # a status a forced move passes through ("processing")
    aliases: tuple[tuple[str, str], ...] = ()  # an outcome that is another status

    def allowed(self, current: str) -> tuple[str, ...]:
        """The outcomes a forced transition may reach from ``current``."""
        if self.lifecycle is None:
            return ()
        same = dict(self.aliases)
        table = self.lifecycle
        found = []
        for outcome in self.outcomes:
            target = same.get(outcome, outcome)
            through = self.via is not None and table.allows(current, self.via)
            if table.allows(current, target) or (through and table.allows(str(self.via), target)):
                found.append(outcome)
        return tuple(found)


def register(app: Flask, item: Controllable) -> None:
    app.extensions.setdefault("paysim.controllable", {})[(item.api, item.object)] = item


def lookup(app: Flask, api: str, obj: str) -> Controllable | None:
    return app.extensions.get("paysim.controllable", {}).get((api, obj))
