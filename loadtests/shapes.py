"""Load shapes by name: how many users run at each second of a load test.

Each shape is a dataclass whose fields are its parameters (all overridable with
``--shape-param name=value``) and whose :meth:`tick` maps the run time to ``(users,
spawn_rate)``, or ``None`` when the run is over. The module has no Locust import, so the
stages can be tested without gevent; ``loadtests/locustfile.py`` wraps the chosen shape in a
``LoadTestShape``. User counts are per API (a run of both APIs doubles them).

- ``smoke``: a few users for a few seconds, the CI gate.
  users=10, spawn_rate=10, duration=10
- ``ramp``: a linear ramp to ``users``, a hold, then the end.
  users=40, ramp_time=60, hold=60
- ``step``: ``steps`` plateaus, each ``step_users`` more than the last.
  step_users=10, steps=5, step_time=30, spawn_rate=10
- ``spike``: a base load, a sudden spike, the base again to watch the recovery.
  base_users=10, spike_users=60, base_time=30, spike_time=15, recover_time=30, spawn_rate=60
- ``soak``: a steady load for a long time (leaks, latency creeping up).
  users=20, spawn_rate=5, duration=600
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

Tick = tuple[int, float] | None


@dataclasses.dataclass
class Shape:
    """Base of the named shapes: parameters are dataclass fields."""

    name: ClassVar[str] = ""

    def tick(self, run_time: float) -> Tick:
        """Users and spawn rate at ``run_time`` seconds, or None to stop."""
        raise NotImplementedError

    @property
    def duration(self) -> float:
        """Total length of the shape in seconds (used to bound a run from outside)."""
        raise NotImplementedError


@dataclasses.dataclass
class Smoke(Shape):
    name: ClassVar[str] = "smoke"
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: float = 10.0

    def tick(self, run_time: float) -> Tick:
        return (self.users, self.spawn_rate) if run_time < self.duration_s else None

    @property
    def duration(self) -> float:
        return self.duration_s


@dataclasses.dataclass
class Ramp(Shape):
    name: ClassVar[str] = "ramp"
    users: int = 40
    ramp_time: float = 60.0
    hold: float = 60.0

    def tick(self, run_time: float) -> Tick:
        if run_time >= self.duration:
            return None
        # Locust ramps at spawn_rate users/s towards the target; one rate gives a linear ramp.
        return (self.users, max(self.users / max(self.ramp_time, 1e-3), 0.1))

    @property
    def duration(self) -> float:
        return self.ramp_time + self.hold


@dataclasses.dataclass
class Step(Shape):
    name: ClassVar[str] = "step"
    step_users: int = 10
    steps: int = 5
    step_time: float = 30.0
    spawn_rate: float = 10.0

    def tick(self, run_time: float) -> Tick:
        if run_time >= self.duration:
            return None
        step = int(run_time // self.step_time) + 1
        return (step * self.step_users, self.spawn_rate)

    @property
    def duration(self) -> float:
        return self.steps * self.step_time


@dataclasses.dataclass
class Spike(Shape):
    name: ClassVar[str] = "spike"
    base_users: int = 10
    spike_users: int = 60
    base_time: float = 30.0
    spike_time: float = 15.0
    recover_time: float = 30.0
    spawn_rate: float = 60.0

    def tick(self, run_time: float) -> Tick:
        if run_time >= self.duration:
            return None
        in_spike = self.base_time <= run_time < self.base_time + self.spike_time
        return (self.spike_users if in_spike else self.base_users, self.spawn_rate)

    @property
    def duration(self) -> float:
        return self.base_time + self.spike_time + self.recover_time


@dataclasses.dataclass
class Soak(Shape):
    name: ClassVar[str] = "soak"
    users: int = 20
    spawn_rate: float = 5.0
    duration_s: float = 600.0

    def tick(self, run_time: float) -> Tick:
        return (self.users, self.spawn_rate) if run_time < self.duration_s else None

    @property
    def duration(self) -> float:
        return self.duration_s


SHAPES: dict[str, type[Shape]] = {cls.name: cls for cls in (Smoke, Ramp, Step, Spike, Soak)}

# Public parameter name -> field, where the field had to differ (``duration`` is a property).
_ALIASES = {"duration": "duration_s"}


def parse_params(items: list[str] | None) -> dict[str, str]:
    """``["users=10", "duration=5"]`` -> ``{"users": "10", "duration": "5"}``."""
    params: dict[str, str] = {}
    for item in items or []:
        for part in filter(None, (p.strip() for p in item.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"shape parameter {part!r} is not name=value")
            params[key.strip()] = value.strip()
    return params


def make_shape(name: str, params: Mapping[str, Any] | None = None) -> Shape:
    """The shape called ``name`` with ``params`` (strings or numbers) over its defaults."""
    try:
        cls = SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown shape {name!r}; known: {', '.join(SHAPES)}") from None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    public = {next((k for k, v in _ALIASES.items() if v == f), f): f for f in fields}
    values: dict[str, Any] = {}
    for key, raw in (params or {}).items():
        if key not in public:
            raise ValueError(f"shape {name!r} has no parameter {key!r}; it takes {sorted(public)}")
        field = public[key]
        kind = int if fields[field].type in ("int", int) else float
        try:
            values[field] = kind(raw)
        except ValueError:
            raise ValueError(f"shape parameter {key}={raw!r} is not a number") from None
        if values[field] < 0:
            raise ValueError(f"shape parameter {key} must not be negative")
    return cls(**values)
