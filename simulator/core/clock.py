"""Simulated time: real time plus an offset that tests and the control API move forward."""

from __future__ import annotations

import threading
import time


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


_second: tuple[int, str] = (-1, "")  # the last second rendered: most stamps fall in it


def iso(ts: float) -> str:
    """RFC 3339 UTC timestamp with milliseconds, as both APIs render times."""
    global _second
    sec, ms = divmod(int(ts * 1000), 1000)
    cached = _second
    if cached[0] != sec:
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec)))
    return f"{cached[1]}{ms:03d}Z"
