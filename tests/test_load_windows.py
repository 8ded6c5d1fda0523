"""Latency over time is computed over the windows it is labelled with, and the chart draws the
run's headline figures on it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harness.report.charts import load_charts
from harness.report.results import read_windows
from loadtests.windows import Window, window, write


def test_a_window_holds_exactly_the_requests_answered_in_it() -> None:
    before = Counter({5: 100, 6: 50})
    # in the window: 98 quick answers and 2 slow ones
    after = Counter({5: 180, 6: 68, 250: 2})
    w = window(10.0, 15.0, before, after)
    assert (w.start_s, w.end_s, w.requests) == (10.0, 15.0, 100)
    assert (w.p50, w.p95, w.p99) == (5.0, 6.0, 250.0)


def test_an_empty_window_has_no_percentiles() -> None:
    same = Counter({5: 3})
    w = window(0.0, 5.0, same, same)
    assert w.requests == 0 and w.p99 is None


def test_the_chart_is_labelled_with_its_window_and_draws_the_headline_figures(
    tmp_path: Path,
) -> None:
    rows = [
        Window(0.0, 5.0, 400, 4.0, 9.0, 12.0),
        Window(5.0, 10.0, 380, 5.0, 30.0, 61.0),
        Window(10.0, 15.0, 0, None, None, None),
    ]
    write(tmp_path / "latency_windows.csv", rows)
    windows = read_windows(tmp_path / "latency_windows.csv")
    assert [w["p99"] for w in windows] == [12.0, 61.0, None]
    svg = load_charts([], windows, headline={"p50": 5.0, "p95": 21.0, "p99": 46.0})["latency"]
    assert "per 5-second window" in svg
    assert "run p99 46 ms" in svg and "run p95 21 ms" in svg
    # the y axis reaches the highest window, above the headline p99
    assert ">100<" in svg


def test_without_windows_the_chart_says_what_locust_s_history_is() -> None:
    history = [{"t": 0.0, "p50": 4.0, "p95": 5.0, "p99": 6.0, "rps": 10.0, "fps": 0.0}]
    svg = load_charts(history, [], headline={"p99": 46.0})["latency"]
    assert "rolling 10-second window" in svg and "run p99 46 ms" in svg
