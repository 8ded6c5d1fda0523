"""Simulated time: real time plus an offset that tests and the control API move forward."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock seconds since the epoch, shifted by ``offset`` seconds."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._offset

    def reset(self, offset: float = 0.0) -> None:
        with self._lock:
            self._offset = offset


def iso(ts: float) -> str:
    """RFC 3339 UTC timestamp with milliseconds, as both APIs render times."""
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{stamp}{int(ts * 1000) % 1000:03d}Z"
