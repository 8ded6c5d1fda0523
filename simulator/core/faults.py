"""Fault injection per route: added latency, a given 5xx, or a dropped connection."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("latency", "status", "drop")


@dataclass
class Fault:
    path: str
    kind: str
    method: str | None = None
    latency_ms: int = 0
    status: int = 503
    count: int | None = None  # None: every matching request until removed
    ratio: float = 1.0
    hits: int = 0
    _re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if not 0 <= self.ratio <= 1:
            raise ValueError("ratio must be between 0 and 1")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError("status must be a 4xx or 5xx")
        self._re = re.compile(self.path)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_re", None)
        return data


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, **spec: Any) -> Fault:
        fault = Fault(**spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def match(self, method: str, path: str) -> Fault | None:
        """The first fault that fires for this request (and count it)."""
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method.upper() != method.upper():
                    continue
                if not fault._re.search(path):
                    continue
                if fault.count is not None and fault.hits >= fault.count:
                    continue
                if fault.ratio < 1 and self._random.random() >= fault.ratio:
                    continue
                fault.hits += 1
                return fault
        return None
