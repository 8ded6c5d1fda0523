"""An object's lifecycle: which status may follow which, checked in one place, and the events a
move sends (``<object>.status_changed``, then the specific event of a status that has one).

Each API declares its objects' tables (freefin payments and payouts, Kaspi invoices and QR);
their ``move`` functions apply what happens on a status of their own (timestamps, reasons).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypedDict

from simulator.core.errors import Conflict


class Moving(TypedDict):
    """What a lifecycle reads and writes of an object (an API's stored object has more)."""

    status: str


@dataclasses.dataclass(frozen=True)
class Lifecycle:
    """A transitions table and the events of a move."""

    noun: str  # in messages: "a pending payment cannot become refunded"
    moves: Mapping[str, tuple[str, ...]]
    specific: tuple[str, ...] = ()  # statuses with an event of their own after status_changed
    conflict_code: str = "invalid_transition"

    def allows(self, current: str, status: str) -> bool:
        return status in self.moves.get(current, ())

    def check(self, current: str, status: str, force: bool = False) -> None:
        """Conflict (409) unless ``status`` may follow ``current`` (or the move is forced)."""
        if not force and not self.allows(current, status):
            raise Conflict(
                f"a {current} {self.noun} cannot become {status}", code=self.conflict_code
            )

    def enter(self, doc: Moving, status: str, force: bool = False) -> None:
        """``doc``'s status becomes ``status``, where the table allows it (or when forced)."""
        self.check(doc["status"], status, force)
        doc["status"] = status

    def events(self, kind: str, status: str) -> list[str]:
        """The event kinds of a move of a ``kind`` object (``payment``) to ``status``."""
        found = [f"{kind}.status_changed"]
        if status in self.specific:
            found.append(f"{kind}.{status}")
        return found
