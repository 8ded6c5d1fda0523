"""What each API lets the control API drive: its objects' outcomes and forced transitions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

Transition = Callable[[str, str, "str | None"], dict[str, Any]]


@dataclass(frozen=True)
class Controllable:
    api: str
    object: str
    outcomes: tuple[str, ...]
    transition: Transition
    default_delay_ms: int = 2000


def register(app: Flask, item: Controllable) -> None:
    app.extensions.setdefault("paysim.controllable", {})[(item.api, item.object)] = item


def lookup(app: Flask, api: str, obj: str) -> Controllable | None:
    return app.extensions.get("paysim.controllable", {}).get((api, obj))
