"""Idempotency under load: remember creates, replay them, race them, count duplicates.

A replay sends an earlier ``Idempotency-Key`` with the very same body bytes, from the same
credentials (keys are scoped per terminal / merchant). The implementation must answer with the
object it created the first time; an answer naming another object is a duplicate created. A
race sends one new create twice at once, same key and bytes: the seeds' supplements say
concurrent requests with one key create exactly one object, so two ids are a duplicate.

Not by chance: every persona that creates replays its first create of each kind at once and
then races a new one (:class:`Proof`), so even a short run makes as many of each as it has
creating users; a share of later creates replays an earlier one at random. The counts are
per process; workers add them to their regular report to the master
(``report_to_master``), which keeps each worker's latest figures, so the master's total is
exact in distributed runs too.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from collections.abc import Mapping
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner

_REPORT_KEY = "paysim_idempotency"


@dataclasses.dataclass(frozen=True)
class Create:
    """A create that succeeded: what to send again and what must come back."""

    api: str
    credential: int
    key: str
    body: bytes
    object_id: str


@dataclasses.dataclass
class Counts:
    """Replays and races answered, duplicates among them (with the first few examples)."""

    replays: int = 0
    races: int = 0
    duplicates: int = 0
    examples: list[str] = dataclasses.field(default_factory=list)
    # kind ("kaspi invoice") -> [replays, races, duplicates]
    by_kind: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    def add(self, other: Mapping[str, Any]) -> None:
        """Add another process's counts (as reported)."""
        self.replays += int(other.get("replays", 0))
        self.races += int(other.get("races", 0))
        self.duplicates += int(other.get("duplicates", 0))
        self.examples.extend(other.get("examples", [])[: max(0, 5 - len(self.examples))])
        for kind, counts in (other.get("by_kind") or {}).items():
            mine = self.kind(kind)
            for i, n in enumerate(counts):
                mine[i] += int(n)

    def kind(self, kind: str) -> list[int]:
        return self.by_kind.setdefault(kind, [0, 0, 0])

    def duplicate(self, example: str, count: int = 1) -> None:
        self.duplicates += count
        if len(self.examples) < 5:
            self.examples.append(example)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ReplayPool:
    """The last creates of this process, shared by its users (so replays cross users)."""

    def __init__(self, size: int = 500) -> None:
        self._items: deque[Create] = deque(maxlen=size)

    def remember(self, create: Create) -> None:
        self._items.append(create)

    def pick(self, api: str) -> Create | None:
        candidates = [c for c in self._items if c.api == api]
        return random.choice(candidates) if candidates else None


POOL = ReplayPool()
COUNTS = Counts()
_from_workers: dict[str, dict[str, Any]] = {}


class Proof:
    """The kinds of create one user has proven: its first create of each kind is replayed at
    once and followed by a race, whatever the replay share, so every run makes both."""

    def __init__(self) -> None:
        self._done: set[str] = set()

    def due(self, kind: str) -> bool:
        """True once per kind: replay the create just made, then race a new one."""
        due = kind not in self._done
        self._done.add(kind)
        return due


def record_replay(create: Create, returned_id: str | None) -> bool:
    """Count one answered replay; True when it created a duplicate."""
    COUNTS.replays += 1
    kind = COUNTS.kind(create.api)
    kind[0] += 1
    if returned_id is not None and returned_id != create.object_id:
        kind[2] += 1
        COUNTS.duplicate(
            f"{create.api} key {create.key}: first {create.object_id}, replay {returned_id}"
        )
        return True
    return False


def record_race(kind: str, key: str, returned: list[str | None]) -> bool:
    """Count one race whose every request was answered (``None``: refused, nothing named);
    True when its answers name more than one object."""
    ids = sorted({i for i in returned if i})
    if not ids:
        return False  # nothing created: no race to judge
    COUNTS.races += 1
    counts = COUNTS.kind(kind)
    counts[1] += 1
    if len(ids) > 1:
        counts[2] += len(ids) - 1
        COUNTS.duplicate(f"{kind} key {key}: one race, objects {', '.join(ids)}", len(ids) - 1)
        return True
    return False


def totals() -> Counts:
    """This process's counts plus the latest reported by each worker."""
    total = Counts()
    for data in (COUNTS.as_dict(), *_from_workers.values()):
        total.add(data)
    return total


def reporting_workers() -> int:
    """How many workers have reported to this master (0 on a local runner)."""
    return len(_from_workers)


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data[_REPORT_KEY] = COUNTS.as_dict()


@events.worker_report.add_listener
def _receive(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if _REPORT_KEY in data:
        _from_workers[client_id] = data[_REPORT_KEY]


@events.test_start.add_listener
def _reset(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        COUNTS.replays = COUNTS.races = COUNTS.duplicates = 0
        COUNTS.examples.clear()
        COUNTS.by_kind.clear()
        POOL._items.clear()
    else:
        _from_workers.clear()
