"""Inline SVG line charts for the report: no script, no network, readable when printed."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 30, 36


@dataclasses.dataclass(frozen=True)
class Series:
    """One line: its label, colour, points (x, y; None gaps the line) and axis (left/right)."""

    label: str
    color: str
    points: Sequence[tuple[float, float | None]]
    axis: str = "left"
    dashed: bool = False


def nice_max(value: float) -> float:
    """A round upper bound for an axis (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def x_step(x_max: float) -> float:
    """A round step giving about five to ten ticks up to ``x_max``."""
    power = 10 ** math.floor(math.log10(max(x_max, 1e-9) / 5))
    return float(next(m * power for m in (1, 2, 5, 10) if x_max / (m * power) <= 10))


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def line_chart(
    title: str, series: Sequence[Series], y_label: str, y2_label: str = "", x_label: str = "seconds"
) -> str:
    """An SVG line chart of ``series`` over a shared x axis."""
    xs = [x for s in series for x, _y in s.points]
    if not xs:
        return (
            f'<svg class="chart" viewBox="0 0 {WIDTH} 60" role="img" '
            f'aria-label="{escape(title)}"><text x="10" y="35">{escape(title)}: no data'
            "</text></svg>"
        )
    x_max = max(max(xs), 1.0)
    bounds = {}
    for axis in ("left", "right"):
        ys = [y for s in series if s.axis == axis for _x, y in s.points if y is not None]
        bounds[axis] = nice_max(max(ys, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + x / x_max * plot_w

    def py(y: float, axis: str) -> float:
        return TOP + plot_h - y / bounds[axis] * plot_h

    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text class="title" x="{LEFT}" y="18">{escape(title)}</text>',
    ]
    for i in range(6):
        value = bounds["left"] * i / 5
        y = py(value, "left")
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_fmt(value)}</text>'
        )
        if any(s.axis == "right" for s in series):
            right = bounds["right"] * i / 5
            out.append(
                f'<text class="tick" x="{LEFT + plot_w + 6}" y="{y + 4:.1f}">{_fmt(right)}</text>'
            )
    step = x_step(x_max)
    for i in range(int(x_max // step) + 1):
        x = i * step
        out.append(
            f'<text class="tick" x="{px(x):.1f}" y="{TOP + plot_h + 16}" '
            f'text-anchor="middle">{_fmt(x)}</text>'
        )
    out.append(
        f'<text class="axis" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text class="axis" transform="rotate(-90)" x="{-(TOP + plot_h / 2):.0f}" '
        f'y="14" text-anchor="middle">{escape(y_label)}</text>'
    )
    if y2_label:
        out.append(
            f'<text class="axis" transform="rotate(90)" x="{TOP + plot_h / 2:.0f}" '
            f'y="{-(WIDTH - 8)}" text-anchor="middle">{escape(y2_label)}</text>'
        )
    out.append(f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>')
    for s in series:
        for segment in _segments(s.points):
            coords = " ".join(f"{px(x):.1f},{py(y, s.axis):.1f}" for x, y in segment)
            dash = ' stroke-dasharray="5 4"' if s.dashed else ""
            out.append(
                f'<polyline fill="none" stroke="{s.color}" stroke-width="2"{dash} '
                f'points="{coords}"/>'
            )
    legend_x = LEFT + 8
    for s in series:
        out.append(f'<rect x="{legend_x}" y="{TOP + 6}" width="12" height="4" fill="{s.color}"/>')
        out.append(
            f'<text class="legend" x="{legend_x + 16}" y="{TOP + 12}">{escape(s.label)}</text>'
        )
        legend_x += 24 + 7 * len(s.label)
    out.append("</svg>")
    return "\n".join(out)


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of points without gaps (a None breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


HEADLINE = (("p50", "#16a34a"), ("p95", "#d97706"), ("p99", "#9333ea"))


def _window_s(windows: Sequence[dict[str, float | None]]) -> float:
    """The windows' length (the most common; the last may be cut short)."""
    lengths = Counter(
        round((w["end_s"] or 0.0) - (w["start_s"] or 0.0), 1) for w in windows
    ).most_common(1)
    return lengths[0][0] if lengths else 0.0


def load_charts(
    history: Sequence[dict[str, float | None]],
    windows: Sequence[dict[str, float | None]] = (),
    headline: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The throughput chart of a load run's per-second history, and its latency chart: p50,
    p95 and p99 per window of ``windows`` (``latency_windows.csv``), or, for a run without
    them, Locust's history, labelled as what it is. The run's own p50/p95/p99 (``headline``)
    are drawn across it, so the lines and the figures in the table can be read together."""

    def points(key: str) -> list[tuple[float, float | None]]:
        return [(float(row["t"] or 0.0), row.get(key)) for row in history]

    throughput = line_chart(
        "Throughput over time",
        [
            Series("requests/s", "#2563eb", points("rps")),
            Series("failures/s", "#dc2626", points("fps")),
            Series("users", "#6b7280", points("users"), axis="right", dashed=True),
        ],
        "requests per second",
        "users",
    )
    if windows:
        title = f"Latency per {_window_s(windows):g}-second window (all operations)"
        lines = [
            Series(
                key,
                color,
                [(float(w["end_s"] or 0.0), w.get(key)) for w in windows],
            )
            for key, color in HEADLINE
        ]
    else:
        title = "Latency over time: Locust's rolling 10-second window (all operations)"
        lines = [Series(key, color, points(key)) for key, color in HEADLINE]
    xs = [x for line in lines for x, _y in line.points] or [0.0]
    span = (min(xs), max(xs))
    for key, color in HEADLINE:
        value = (headline or {}).get(key)
        if isinstance(value, int | float):
            label = f"run {key} {value:.0f} ms"
            lines.append(Series(label, color, [(span[0], value), (span[1], value)], dashed=True))
    latency = line_chart(title, lines, "milliseconds")
    return {"throughput": throughput, "latency": latency}
