"""Fault injection per route: added latency, a given 4xx/5xx, or a dropped connection; before the
request is handled, or after (the work is done and committed, and the answer is lost: what makes
a client's retry a duplicate unless it keeps its Idempotency-Key). Chaos profiles are sets of
such faults at a rate.

A fault's path is a pattern a tester sends, matched against every request: it is compiled by
RE2, whose matching takes time linear in the path whatever the pattern (Python's ``re``
backtracks: ``^/api/(a+)+$`` against a long path of ``a`` held a worker for a minute). What RE2
cannot match linearly (look-arounds, back-references) is refused when the fault is added.
Matching runs outside the faults' lock, which only counts the fault that fired."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import re2

KINDS = ("latency", "status", "drop")
MAX_PATTERN = 1000  # characters of a fault's path pattern


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the tester's 400, not the server's log
    return options


RE2_OPTIONS = _options()


def compile_path(pattern: str) -> Any:
    """A fault's path pattern, compiled for linear-time matching; ValueError when RE2 refuses
    it (a syntax it does not take, or a pattern too large)."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"path must be at most {MAX_PATTERN} characters")
    try:
        return re2.compile(pattern, RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise ValueError(f"path is not a pattern RE2 matches in linear time: {detail}") from None


WHEN = ("before", "after")


@dataclass
class Fault:
    path: str
    kind: str
    method: str | None = None
    latency_ms: int = 0
    status: int = 503
    count: int | None = None  # None: every matching request until removed
    ratio: float = 1.0
    when: str = "before"  # after: the request is handled and committed, then its answer lost
    # the Retry-After of an injected status: a 429 always has one (1 s unless given), any other
    # status only when given
    retry_after: int | None = None
    hits: int = 0
    _re: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if self.when not in WHEN or (self.when == "after" and self.kind == "latency"):
            raise ValueError("when must be before or after (after: a status or a drop)")
        if not 0 <= self.ratio <= 1:
            raise ValueError("ratio must be between 0 and 1")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError("status must be a 4xx or 5xx")
        self._re = compile_path(self.path)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_re", None)
        return data


class Faults:
    """The faults added one by one (cleared by a reset), then the chaos profile's (kept until
    another profile is chosen: a partner's suite may reset between its tests)."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._chaos: list[Fault] = []
        self.chaos_profile = "none"
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

    def replace(self, faults: Sequence[Fault]) -> None:
        """The faults added one by one, as another process of the same store holds them."""
        with self._lock:
            self._faults = list(faults)

    def counted(self) -> bool:
        """Whether a fault fires a given number of times (a count to keep across processes)."""
        with self._lock:
            return any(f.count is not None for f in self._faults)

    def set_chaos(self, name: str, creates: Sequence[str]) -> None:
        faults = [Fault(**spec) for spec in chaos(name, creates)]
        with self._lock:
            self._chaos, self.chaos_profile = faults, name

    def chaos(self) -> dict[str, Any]:
        with self._lock:
            return {"profile": self.chaos_profile, "faults": [f.to_dict() for f in self._chaos]}

    def match(self, method: str, path: str) -> Fault | None:
        """The first fault that fires for this request (and count it). The patterns run on a
        copy of the list, outside the lock; the lock only counts."""
        with self._lock:
            faults = self._faults + self._chaos
        for fault in faults:
            if fault.method and fault.method.upper() != method.upper():
                continue
            if not fault._re.search(path):
                continue
            with self._lock:
                if fault.count is not None and fault.hits >= fault.count:
                    continue
                if fault.ratio < 1 and self._random.random() >= fault.ratio:
                    continue
                fault.hits += 1
            return fault
        return None


# The chaos profiles: what a partner's own suite meets when run against the simulator, so its
# retry paths run. Paths are regexes by the end of the request path (either API's prefix).
API = r"^/api/"
CHAOS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "flaky": [
        {"kind": "status", "status": 503, "ratio": 0.05, "creates": True},
        {"kind": "status", "status": 500, "ratio": 0.03, "when": "after", "creates": True},
        {"kind": "drop", "ratio": 0.02, "when": "after", "creates": True},
        {"kind": "status", "status": 429, "ratio": 0.02, "retry_after": 1},
        {"kind": "latency", "latency_ms": 300, "ratio": 0.05},
    ],
    "hostile": [
        {"kind": "status", "status": 503, "ratio": 0.15, "creates": True},
        {"kind": "status", "status": 502, "ratio": 0.10, "when": "after", "creates": True},
        {"kind": "drop", "ratio": 0.05, "when": "after", "creates": True},
        {"kind": "status", "status": 429, "ratio": 0.10, "retry_after": 2},
        {"kind": "latency", "latency_ms": 1500, "ratio": 0.10},
    ],
}


def chaos(name: str, creates: Sequence[str]) -> list[dict[str, Any]]:
    """A profile's faults; ``creates`` are the path regexes of the operations that create."""
    if name not in CHAOS:
        raise ValueError(f"chaos profile must be one of {', '.join(CHAOS)}")
    faults = []
    for spec in CHAOS[name]:
        spec = dict(spec)
        if spec.pop("creates", False):
            faults += [{**spec, "path": path, "method": "POST"} for path in creates]
        else:
            faults.append({**spec, "path": API})
    return faults
