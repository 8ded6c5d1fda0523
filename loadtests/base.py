"""The base of every persona: a FastHttpUser that speaks absolute URLs and shares known ids.

The two APIs live at two base URLs, so personas build absolute URLs from the run's settings
instead of relying on Locust's single ``--host`` (which, when given, would overwrite every user
class's host). Think times scale with ``--think-scale`` so that a capacity probe can run the
same mix without pauses.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser

from harness.patience import retry_after_seconds
from loadtests.settings import Settings, settings_of

# The longest a user waits on one Retry-After: a server asking for more is still obeyed for this
# long, and the run's own end stops the wait in any case.
MAX_BACK_OFF_S = 60.0


class Known:
    """Ids this process has seen created, for back-office reads (bounded: oldest drop out)."""

    def __init__(self, size: int = 2000) -> None:
        self._items: deque[tuple[int, str]] = deque(maxlen=size)

    def add(self, credential: int, object_id: str) -> None:
        self._items.append((credential, object_id))

    def pick(self) -> tuple[int, str] | None:
        return random.choice(self._items) if self._items else None


class PaysimUser(FastHttpUser):
    """Abstract persona: settings, scaled think time, polling pauses."""

    abstract = True
    host = ""  # absolute URLs only (see module docstring)
    network_timeout = 10.0
    connection_timeout = 5.0
    api: ClassVar[str] = ""
    think: ClassVar[tuple[float, float]] = (1.0, 3.0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.settings: Settings = settings_of(environment)

    def wait_time(self) -> float:
        lo, hi = self.think
        return random.uniform(lo, hi) * self.settings.think_scale

    def back_off(self, resp: Any) -> None:
        """After a 429, this user sends nothing until Retry-After has passed, as a well-behaved
        client does: the 429 counts as a failure, and the load eases instead of hammering on."""
        if resp.status_code != 429:
            return
        seconds = retry_after_seconds(resp.headers.get("Retry-After"))
        if seconds:
            gevent.sleep(min(seconds, MAX_BACK_OFF_S))

    def pause(self, seconds: float) -> None:
        """A pause inside a task (between polls), scaled like think time, never zero."""
        gevent.sleep(max(seconds * self.settings.think_scale, 0.05))
