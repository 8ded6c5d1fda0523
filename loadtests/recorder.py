"""Inside a Locust run: the response-time histogram read every few seconds, in the process that
holds the whole run's statistics, and the windows between readings written at the end
(``loadtests.windows``: the arithmetic and the file)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests.windows import FILE, WINDOW_S, Window, window, write


class Recorder:
    """Reads the histogram every ``every`` seconds (a greenlet) and keeps the windows."""

    def __init__(self, environment: Environment, every: float = WINDOW_S) -> None:
        self.environment, self.every = environment, every
        self.windows: list[Window] = []
        self._start = self._last_at = 0.0
        self._last: Counter[int] = Counter()
        self._greenlet: Any = None

    def _reading(self) -> Counter[int]:
        stats = self.environment.stats
        assert stats is not None
        return Counter(stats.total.response_times)

    def start(self, now: float) -> None:
        self._start = self._last_at = now
        self._last = self._reading()
        self._greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.every)
            self.close(time.time())

    def close(self, now: float) -> None:
        """End the current window at ``now``."""
        reading = self._reading()
        if now > self._last_at:
            self.windows.append(
                window(self._last_at - self._start, now - self._start, self._last, reading)
            )
        self._last, self._last_at = reading, now

    def stop(self, now: float) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        self.close(now)


_recorder: Recorder | None = None


@events.test_start.add_listener
def _started(environment: Environment, **_: Any) -> None:
    global _recorder
    if isinstance(environment.runner, WorkerRunner):
        return  # the master reads the merged histogram
    options = environment.parsed_options
    every = float(getattr(options, "latency_window", WINDOW_S) or WINDOW_S)
    _recorder = Recorder(environment, max(every, 0.5))
    _recorder.start(time.time())


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    if _recorder is None or isinstance(environment.runner, WorkerRunner):
        return
    _recorder.stop(time.time())
    options = environment.parsed_options
    run_dir = getattr(options, "run_dir", None) if options is not None else None
    if run_dir:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        write(Path(run_dir) / FILE, _recorder.windows)
