"""Honour ``Retry-After``: a 429, or a 503, that says when to come back is waited out, never a
failure (RFC 9110 section 10.2.3: both statuses may carry it).

Every request the harness sends (contract checks, probes, scenario steps, outcome hooks,
preflight) goes through :func:`wait_for` when it is answered so. A 503 without Retry-After is
an answer like any other. Waits are bounded twice: at
most :data:`MAX_WAIT_S` per answer and :data:`RUN_BUDGET_S` for the whole run; past either
the 429 is handed back as it is (and the check or scenario that sent it decides). The time
spent waiting is counted and written next to the run's report (:func:`write`), so the summary
says how long the target's rate limit cost.
"""

from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests

MAX_WAIT_S = float(os.environ.get("PAYSIM_MAX_RETRY_AFTER", "10"))
RUN_BUDGET_S = float(os.environ.get("PAYSIM_RETRY_AFTER_BUDGET", "300"))
MAX_RETRIES = 6
THROTTLED = (429, 503)  # the statuses whose Retry-After is waited out
FILE = "patience.json"
R = TypeVar("R")


class _Ledger:
    """What the run has waited so far (shared by every thread of the process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waited_s = 0.0
        self.retries = 0
        self.gave_up = 0

    def take(self, seconds: float) -> float | None:
        """Book a wait of ``seconds`` (capped); None when the run's budget is spent."""
        wait = min(max(seconds, 0.05), MAX_WAIT_S)
        with self.lock:
            if self.waited_s + wait > RUN_BUDGET_S:
                self.gave_up += 1
                return None
            self.waited_s += wait
            self.retries += 1
        return wait

    def give_up(self) -> None:
        with self.lock:
            self.gave_up += 1

    def snapshot(self) -> dict[str, float | int]:
        with self.lock:
            return {
                "waited_s": round(self.waited_s, 2),
                "retries": self.retries,
                "gave_up": self.gave_up,
                "max_wait_s": MAX_WAIT_S,
                "budget_s": RUN_BUDGET_S,
            }


LEDGER = _Ledger()


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def header(headers: Mapping[str, object], name: str = "retry-after") -> str | None:
    """A header's value from a case-insensitive or plain mapping (lists give their first)."""
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, list | tuple):
                return str(value[0]) if value else None
            return str(value)
    return None


def asks_to_wait(status: int | None, headers: Mapping[str, object]) -> bool:
    """A 429 (whatever it says: its own checks judge a missing Retry-After), or a 503 that says
    when to come back."""
    return status == 429 or (status == 503 and retry_after_seconds(header(headers)) is not None)


def wait_for(status: int, headers: Mapping[str, object]) -> bool:
    """When ``status`` is a 429 or 503 with a usable Retry-After and the budget allows, wait it
    out and say True (send again); otherwise False (the answer stands)."""
    if status not in THROTTLED:
        return False
    seconds = retry_after_seconds(header(headers))
    if seconds is None:
        return False
    wait = LEDGER.take(seconds)
    if wait is None:
        return False
    time.sleep(wait)
    return True


def patiently(
    send: Callable[[], R], status_of: Callable[[R], tuple[int, Mapping[str, object]]]
) -> R:
    """``send()`` again while it is answered 429 or 503 with Retry-After, within the bounds."""
    answer = send()
    for _ in range(MAX_RETRIES):
        status, headers = status_of(answer)
        if not wait_for(status, headers):
            return answer
        answer = send()
    if asks_to_wait(*status_of(answer)):
        LEDGER.give_up()
    return answer


def write(directory: Path) -> None:
    """Add this process's waits to ``directory/patience.json`` (several processes may write)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    mine = LEDGER.snapshot()
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    for key in ("waited_s", "retries", "gave_up"):
        mine[key] = round(float(old.get(key, 0)) + float(mine[key]), 2)
    path.write_text(json.dumps(mine, indent=2), encoding="utf-8")


def read(directory: Path) -> dict[str, float | int]:
    """The waits recorded for a run (zeros when none were)."""
    try:
        return dict(json.loads((directory / FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {"waited_s": 0.0, "retries": 0, "gave_up": 0}


def request(method: str, url: str, session: Any = None, **kwargs: Any) -> requests.Response:
    """``requests`` (or ``session``) ``.request``, sent again while Retry-After says so."""
    sender = session or requests
    return patiently(
        lambda: sender.request(method, url, **kwargs), lambda r: (r.status_code, r.headers)
    )
