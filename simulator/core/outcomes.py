"""Planned outcomes: what a payment, payout or invoice will do, and when.

A plan comes from, in order: a queued outcome (control API or script), a magic value in the
request, or the terminal's / merchant's default.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    outcome: str
    reason: str | None = None
    delay_ms: int = 2000

    def describe(self) -> str:
        what = f"{self.outcome}:{self.reason}" if self.reason else self.outcome
        return f"{what} after {self.delay_ms}ms"


def parse(spec: str, allowed: tuple[str, ...], delay_ms: int = 2000) -> Plan:
    """``"failed:insufficient_funds"`` -> Plan("failed", "insufficient_funds")."""
    outcome, _, reason = str(spec).partition(":")
    if outcome not in allowed:
        raise ValueError(f"outcome must be one of {', '.join(allowed)}, not {outcome!r}")
    if delay_ms < 0 or delay_ms > 86_400_000:
        raise ValueError("delay_ms must be between 0 and 86400000")
    return Plan(outcome, reason or None, delay_ms)


def from_mapping(data: dict[str, Any], allowed: tuple[str, ...], default_delay: int = 2000) -> Plan:
    return parse(str(data["outcome"]), allowed, int(data.get("delay_ms", default_delay)))


class OutcomeQueue:
    """Outcomes queued for the next created objects, per (api, object) and merchant."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str, str], deque[Plan]] = {}
        self._lock = threading.Lock()

    def push(self, api: str, obj: str, plan: Plan, merchant: str | None = None) -> None:
        with self._lock:
            self._queues.setdefault((api, obj, merchant or "*"), deque()).append(plan)

    def pop(self, api: str, obj: str, merchant: str) -> Plan | None:
        with self._lock:
            for key in ((api, obj, merchant), (api, obj, "*")):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "api": a,
                    "object": o,
                    "merchant": None if m == "*" else m,
                    "outcome": p.outcome,
                    "reason": p.reason,
                    "delay_ms": p.delay_ms,
                }
                for (a, o, m), q in self._queues.items()
                for p in q
            ]

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()

    def empty(self) -> bool:
        return not any(self._queues.values())

    def saved(self) -> list[dict[str, Any]]:
        """Every queued plan, in order, as the shared control state keeps them."""
        with self._lock:
            return [
                {"api": a, "object": o, "merchant": m, "plan": asdict(plan)}
                for (a, o, m), queue in self._queues.items()
                for plan in queue
            ]

    def restore(self, saved: list[dict[str, Any]]) -> None:
        """The queues ``saved`` describes, in place of these."""
        with self._lock:
            self._queues.clear()
            for item in saved:
                key = (item["api"], item["object"], item["merchant"])
                self._queues.setdefault(key, deque()).append(Plan(**item["plan"]))
