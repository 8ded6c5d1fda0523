"""Pass/fail thresholds of a load profile: load them from YAML, judge a run, print the verdict.

A profile's thresholds (``loadtests/thresholds.yaml``)::

    smoke:
      error_rate: 0.01          # failed requests / all requests, over the whole run
      min_rps: 5                # average throughput of the whole run, requests per second
      max_duplicates: 0         # objects created twice by an idempotent replay
      latency_ms:               # per operation ("METHOD name" as in Locust's table), in ms
        "*": {p95: 300, p99: 800}                 # any operation not named below
        "POST freefin /payments": {p95: 200, p99: 500}

The observed side is a plain dict (see :func:`evaluate`), so this module needs no Locust and
is tested on its own; ``loadtests/gate.py`` fills it from Locust's statistics.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

THRESHOLDS_FILE = Path(__file__).resolve().parent / "thresholds.yaml"
_TOP_KEYS = {"error_rate", "min_rps", "max_duplicates", "latency_ms"}
_PERCENTILES = ("p50", "p90", "p95", "p99")
# "METHOD api /path" as the personas name their requests; anything else can never be measured
_OPERATION = re.compile(r"(GET|POST|PUT|PATCH|DELETE) (freefin|kaspi) /\S.*")


@dataclasses.dataclass(frozen=True)
class Check:
    """One threshold and what the run showed: ``held`` is None when nothing was measured."""

    what: str
    limit: str
    observed: str
    held: bool | None


def load_thresholds(profile: str, path: str | Path | None = None) -> dict[str, Any]:
    """The thresholds of ``profile`` from ``path`` (default: the bundled file), validated."""
    path = Path(path) if path else THRESHOLDS_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if profile not in data:
        raise ValueError(f"{path}: no thresholds for profile {profile!r}; has {sorted(data)}")
    spec = data[profile] or {}
    unknown = set(spec) - _TOP_KEYS
    if unknown:
        raise ValueError(f"{path}: {profile}: unknown keys {sorted(unknown)}")
    for op, limits in (spec.get("latency_ms") or {}).items():
        if op != "*" and not _OPERATION.fullmatch(str(op)):
            raise ValueError(
                f"{path}: {profile}: {op!r} is no operation name: write 'METHOD "
                "api /path' as in Locust's table, e.g. 'POST freefin /payments'"
            )
        bad = set(limits or {}) - set(_PERCENTILES)
        if bad:
            raise ValueError(f"{path}: {profile}: {op}: unknown percentiles {sorted(bad)}")
    return dict(spec)


def evaluate(thresholds: Mapping[str, Any], observed: Mapping[str, Any]) -> list[Check]:
    """Judge ``observed`` against ``thresholds``.

    ``observed``: ``requests``, ``failures``, ``rps``, ``duplicates``, ``replays`` and
    ``operations``: ``{"METHOD name": {"requests", "failures", "p50", "p90", "p95", "p99"}}``
    with latencies in milliseconds.
    """
    checks: list[Check] = []
    requests = int(observed.get("requests", 0))
    if requests == 0:
        checks.append(Check("requests made", "> 0", "0", False))
    if "error_rate" in thresholds:
        limit = float(thresholds["error_rate"])
        rate = observed.get("failures", 0) / requests if requests else 0.0
        checks.append(
            Check(
                "error rate", f"<= {limit:.2%}", f"{rate:.2%}", rate <= limit if requests else None
            )
        )
    if "min_rps" in thresholds:
        limit = float(thresholds["min_rps"])
        rps = float(observed.get("rps", 0.0))
        checks.append(Check("throughput (req/s)", f">= {limit:g}", f"{rps:.1f}", rps >= limit))
    if "max_duplicates" in thresholds:
        limit = int(thresholds["max_duplicates"])
        dup = int(observed.get("duplicates", 0))
        replays = int(observed.get("replays", 0))
        checks.append(
            Check(f"duplicates created ({replays} replays)", f"<= {limit}", str(dup), dup <= limit)
        )
    checks.extend(
        _latency_checks(thresholds.get("latency_ms") or {}, observed.get("operations") or {})
    )
    return checks


def _latency_checks(limits: Mapping[str, Any], ops: Mapping[str, Any]) -> list[Check]:
    checks = []
    default = limits.get("*") or {}
    named = {op: lim for op, lim in limits.items() if op != "*"}
    for op in sorted(set(named) | set(ops)):
        for pct, limit in (named.get(op) or default).items():
            stats = ops.get(op)
            if not stats or not stats.get("requests"):
                # Named but not exercised (another API's operation, a persona left out).
                checks.append(Check(f"{op} {pct}", f"<= {limit} ms", "no requests", None))
                continue
            value = float(stats[pct])
            checks.append(
                Check(f"{op} {pct}", f"<= {limit} ms", f"{value:.0f} ms", value <= float(limit))
            )
    return checks


def broken(checks: list[Check]) -> list[Check]:
    """The checks that did not hold."""
    return [c for c in checks if c.held is False]


def format_table(checks: list[Check]) -> str:
    """A plain-text table: threshold, limit, observed, verdict."""
    rows = [("threshold", "limit", "observed", "verdict")]
    verdicts = {True: "held", False: "BROKEN", None: "not measured"}
    rows += [(c.what, c.limit, c.observed, verdicts[c.held]) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    held = sum(1 for c in checks if c.held)
    bad = len(broken(checks))
    lines.append(f"thresholds: {held} held, {bad} broken, {len(checks) - held - bad} not measured")
    return "\n".join(lines)


def write_verdict(
    path: str | Path, profile: str, observed: Mapping[str, Any], checks: list[Check]
) -> None:
    """The verdict as JSON beside the reports, for tools that read the run folder."""
    doc = {
        "profile": profile,
        "passed": not broken(checks),
        "observed": observed,
        "checks": [dataclasses.asdict(c) for c in checks],
    }
    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
