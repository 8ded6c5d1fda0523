"""Pass/fail thresholds of a load profile: load them from YAML, judge a run, print the verdict.

A profile's thresholds (``loadtests/thresholds.yaml``)::

    smoke:
      error_rate: 0.01          # failed requests / all requests, over the whole run
      min_rps: 5                # average throughput of the whole run, requests per second
      max_duplicates: 0         # objects created twice by an idempotent replay or a race
      latency_ms:               # per operation ("METHOD name" as in Locust's table), in ms
        "*": {p95: 300, p99: 800}                 # any operation not named below
        "POST freefin /payments": {p50: 150, p90: 300}

A threshold is earned: judged on too few samples it is *not measured*, never held (see
:func:`needed`). Every threshold gates the run except ``"*"`` latencies of an operation that
ran too rarely to be measured (shown, not gating) and thresholds of an API left out of the run.

The observed side is a plain dict (see :func:`evaluate`), so this module needs no Locust and
is tested on its own; ``loadtests/gate.py`` fills it from Locust's statistics.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

THRESHOLDS_FILE = Path(__file__).resolve().parent / "thresholds.yaml"
_TOP_KEYS = {"error_rate", "min_rps", "max_duplicates", "latency_ms"}
_PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
# "METHOD api /path" as the personas name their requests; anything else can never be measured
_OPERATION = re.compile(r"(GET|POST|PUT|PATCH|DELETE) (freefin|kaspi) /\S.*")
APIS = ("freefin", "kaspi")

# How many samples each kind of threshold needs before it says anything (see `needed`).
MIN_RPS_SECONDS = 5.0
MIN_REPLAYS = 5
MIN_RACES = 5


@dataclasses.dataclass(frozen=True)
class Check:
    """One threshold and what the run showed: ``held`` is None when it was not measured.

    ``samples``: what it was judged on (requests, seconds, replays); ``needed``: the least
    that measures it; ``gating``: whether not measuring it fails the run.
    """

    what: str
    limit: str
    observed: str
    held: bool | None
    samples: int = 0
    needed: int = 0
    gating: bool = True


def needed(kind: str, limit: float = 0.0) -> int:
    """The fewest samples that measure a threshold of ``kind``.

    - a percentile ``pNN``: ``1 / (1 - NN/100)`` requests of the operation (p50: 2, p90: 10,
      p95: 20, p99: 100): with fewer, no request lies above the percentile, which is then the
      slowest request by construction, not the tail it names;
    - ``error_rate``: ``1 / limit`` requests (100 for 1 %, 200 for 0.5 %; 100 for a limit of
      0): with fewer, one failure is already above the limit, so no failure rate at the limit
      could be told from a clean run (more failures than the limit allows on that many
      requests break it however few were made);
    - ``min_rps``: ``MIN_RPS_SECONDS`` seconds of requests: shorter, the users' start dominates;
    - ``replays`` and ``races`` (``max_duplicates``, per API): ``MIN_REPLAYS`` / ``MIN_RACES``
      of each: one shows a bug that duplicates every time; five leave a bug that duplicates one
      time in two a 3 % chance of passing unseen.
    """
    if kind in _PERCENTILES:
        return math.ceil(round(1 / (1 - _PERCENTILES[kind]), 6))
    if kind == "error_rate":
        return math.ceil(round(1 / limit, 6)) if limit > 0 else 100
    if kind == "min_rps":
        return math.ceil(MIN_RPS_SECONDS)
    if kind == "replays":
        return MIN_REPLAYS
    if kind == "races":
        return MIN_RACES
    raise ValueError(f"no sample rule for {kind!r}")


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


def _few(samples: int, need: int, unit: str) -> str:
    return f"too few: {samples} {unit}, needs {need}"


def evaluate(thresholds: Mapping[str, Any], observed: Mapping[str, Any]) -> list[Check]:
    """Judge ``observed`` against ``thresholds``.

    ``observed``: ``requests``, ``failures``, ``rps``, ``duration_s``, ``apis`` (the APIs the
    run sent to; both when absent), ``idempotency_by_kind`` (``{"<api> <object>":
    {"replays", "races", "duplicates"}}``) and ``operations``: ``{"METHOD name":
    {"requests", "failures", "p50", "p90", "p95", "p99"}}`` with latencies in milliseconds.
    """
    checks: list[Check] = []
    requests = int(observed.get("requests", 0))
    apis = tuple(observed.get("apis") or APIS)
    if requests == 0:
        checks.append(Check("requests made", "> 0", "0", False))
    if "error_rate" in thresholds:
        limit = float(thresholds["error_rate"])
        need = needed("error_rate", limit)
        failures = int(observed.get("failures", 0))
        rate = failures / requests if requests else 0.0
        if failures / max(requests, need) > limit:
            held: bool | None = False  # too many failures even had the rest all succeeded
        else:
            held = rate <= limit if requests >= need else None
        shown = f"{rate:.2%} of {requests}"
        checks.append(
            Check(
                "error rate",
                f"<= {limit:.2%}",
                shown if held is not None else _few(requests, need, "requests"),
                held,
                requests,
                need,
            )
        )
    if "min_rps" in thresholds:
        limit = float(thresholds["min_rps"])
        rps = float(observed.get("rps", 0.0))
        seconds = float(observed.get("duration_s", 0.0))
        need = needed("min_rps")
        measured = seconds >= need and requests > 0
        checks.append(
            Check(
                "throughput (req/s)",
                f">= {limit:g}",
                f"{rps:.1f} over {seconds:.1f} s" if measured else _few(int(seconds), need, "s"),
                rps >= limit if measured else None,
                int(seconds),
                need,
            )
        )
    if "max_duplicates" in thresholds:
        checks.extend(
            _duplicate_checks(
                int(thresholds["max_duplicates"]), apis, observed.get("idempotency_by_kind") or {}
            )
        )
    checks.extend(
        _latency_checks(thresholds.get("latency_ms") or {}, observed.get("operations") or {}, apis)
    )
    return checks


def _duplicate_checks(limit: int, apis: tuple[str, ...], by_kind: Mapping[str, Any]) -> list[Check]:
    """Per API of the run: duplicates created, judged on enough replays and races."""
    checks = []
    for api in apis:
        mine = [v for k, v in by_kind.items() if k.split()[0] == api]
        replays = sum(int(v.get("replays", 0)) for v in mine)
        races = sum(int(v.get("races", 0)) for v in mine)
        dups = sum(int(v.get("duplicates", 0)) for v in mine)
        need_replays, need_races = needed("replays"), needed("races")
        what = f"duplicates created, {api} ({replays} replays, {races} races)"
        short = [
            f"{n} {unit}, needs {need}"
            for n, need, unit in ((replays, need_replays, "replays"), (races, need_races, "races"))
            if n < need
        ]
        if dups > limit:  # seen, however few the samples
            held: bool | None = False
        elif short:
            held = None
        else:
            held = True
        observed = str(dups) if held is not None else f"{dups}; too few: {', '.join(short)}"
        checks.append(Check(what, f"<= {limit}", observed, held, min(replays, races), need_replays))
    return checks


def _latency_checks(
    limits: Mapping[str, Any], ops: Mapping[str, Any], apis: tuple[str, ...]
) -> list[Check]:
    checks = []
    default = limits.get("*") or {}
    named = {op: lim for op, lim in limits.items() if op != "*"}
    for op in sorted(set(named) | set(ops)):
        in_run = op.split()[1] in apis
        for pct, limit in (named.get(op) or default).items():
            what, bound = f"{op} {pct}", f"<= {limit} ms"
            count = int((ops.get(op) or {}).get("requests") or 0)
            need = needed(pct)
            if not in_run:
                checks.append(Check(what, bound, "API not in this run", None, 0, need, False))
            elif count < need:
                # A named operation is what the profile judges: not measuring it fails the run.
                # "*" covers whatever else ran; one that ran rarely is shown, not gating.
                checks.append(
                    Check(
                        what, bound, _few(count, need, "requests"), None, count, need, op in named
                    )
                )
            else:
                value = float(ops[op][pct])
                checks.append(
                    Check(what, bound, f"{value:.0f} ms", value <= float(limit), count, need)
                )
    return checks


def broken(checks: list[Check]) -> list[Check]:
    """The checks that did not hold."""
    return [c for c in checks if c.held is False]


def unmeasured(checks: list[Check]) -> list[Check]:
    """The gating checks that were not measured: the run cannot pass on them."""
    return [c for c in checks if c.held is None and c.gating]


def passed(checks: list[Check]) -> bool:
    """Every gating threshold measured, and none broke."""
    return not broken(checks) and not unmeasured(checks)


def format_table(checks: list[Check]) -> str:
    """A plain-text table: threshold, limit, observed, samples (of needed), verdict."""
    rows = [("threshold", "limit", "observed", "samples", "verdict")]
    for c in checks:
        if c.held is None:
            verdict = "NOT MEASURED" if c.gating else "not measured (not gating)"
        else:
            verdict = "held" if c.held else "BROKEN"
        rows.append((c.what, c.limit, c.observed, f"{c.samples} of {c.needed}", verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    held = sum(1 for c in checks if c.held)
    bad, missing = len(broken(checks)), len(unmeasured(checks))
    rest = len(checks) - held - bad - missing
    lines.append(
        f"thresholds: {held} held, {bad} broken, {missing} not measured (gating), "
        f"{rest} not measured (not gating)"
    )
    return "\n".join(lines)


def write_verdict(
    path: str | Path, profile: str, observed: Mapping[str, Any], checks: list[Check]
) -> None:
    """The verdict as JSON beside the reports, for tools that read the run folder."""
    doc = {
        "profile": profile,
        "passed": passed(checks),
        "not_measured": [c.what for c in unmeasured(checks)],
        "observed": observed,
        "checks": [dataclasses.asdict(c) for c in checks],
    }
    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")


def load_verdict(path: str | Path, code: int) -> str:
    """The thresholds of a load run, then one line: held, broken or not measured, the worst
    measured p99, the replays, races and duplicates counted."""
    path = Path(path)
    if not path.exists():
        return f"paysim load: FAILED (exit {code}): no verdict was written; see locust.log"
    doc = json.loads(path.read_text(encoding="utf-8"))
    checks = [Check(**c) for c in doc["checks"]]
    observed = doc.get("observed", {})
    ops = observed.get("operations", {})
    enough = needed("p99")
    worst = max(
        ((float(s["p99"]), op) for op, s in ops.items() if (s.get("requests") or 0) >= enough),
        default=None,
    )
    bad = [c.what for c in broken(checks)]
    missing = [c.what for c in unmeasured(checks)]
    if bad:
        head = (
            f"FAILED: {len(bad)} threshold{'s' if len(bad) != 1 else ''} broken ({', '.join(bad)})"
        )
    elif missing:
        head = (
            f"NOT PASSED: {len(missing)} threshold{'s' if len(missing) != 1 else ''} not "
            f"measured, too few samples ({', '.join(missing)})"
        )
    else:
        head = "PASSED: every threshold held"
    facts = [
        f"{observed.get('requests', 0)} requests",
        f"{observed.get('failures', 0)} failed",
        f"worst p99 {worst[0]:.0f} ms ({worst[1]})"
        if worst
        else f"no p99 measured (no operation made {enough} requests)",
        f"{observed.get('replays', 0)} replays and {observed.get('races', 0)} races, "
        f"{observed.get('duplicates', 0)} duplicates created",
    ]
    return f"{format_table(checks)}\n\npaysim load: {head}; " + ", ".join(facts)
