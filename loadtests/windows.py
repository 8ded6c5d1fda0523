"""Latency over time, computed over the windows the report labels it with.

Locust's own history (``stats_stats_history.csv``) gives, each second, percentiles over a
rolling window of its own (the last ten seconds), so a chart of it and the run's headline p99
disagree. Here, in the process that holds the whole run's statistics (the local runner, or the
master, whose figures merge the workers' reports), the run's response-time histogram is read
every ``WINDOW_S`` seconds; the difference between two readings is exactly the requests
answered in that window, and its p50/p95/p99 are written to ``latency_windows.csv`` in the run
folder, each row with the window's start and end.

This module is the arithmetic and the file (no Locust in it, so the report reads it too);
``loadtests.recorder`` takes the readings inside a Locust run.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

WINDOW_S = 5.0
FILE = "latency_windows.csv"
COLUMNS = ("start_s", "end_s", "requests", "p50", "p95", "p99")


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float
    requests: int
    p50: float | None
    p95: float | None
    p99: float | None


def percentile(histogram: Counter[int], count: int, p: float) -> float:
    """The ``p`` percentile of a histogram, as Locust computes its own (so a window's figures
    and the run's headline are the same arithmetic on different requests)."""
    wanted = int(count * p)
    seen = 0
    for bucket in sorted(histogram, reverse=True):
        seen += histogram[bucket]
        if count - seen <= wanted:
            return float(bucket)
    return 0.0


def window(start: float, end: float, before: Counter[int], after: Counter[int]) -> Window:
    """The window between two readings of the cumulative histogram (ms bucket -> count)."""
    inside = after - before  # drops buckets that did not grow
    count = sum(inside.values())

    def pct(p: float) -> float | None:
        return percentile(inside, count, p) if count else None

    # A last window closed just after a reading still spans time: at least the 0.1 s shown.
    first = round(start, 1)
    last = max(round(end, 1), round(first + 0.1, 1))
    return Window(first, last, count, pct(0.50), pct(0.95), pct(0.99))


def write(path: Path, windows: list[Window]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for w in windows:
            out.writerow([w.start_s, w.end_s, w.requests, w.p50, w.p95, w.p99])
