"""The pass/fail gate: at the end of a run, judge Locust's statistics against the thresholds.

Runs in the process that holds the whole run's statistics (the local runner, or the master,
which by then has the workers' final reports merged), prints the table, writes
``thresholds.json`` into ``--run-dir`` and sets ``environment.process_exit_code``: 0 when every
threshold held, 1 when one broke, 2 when the thresholds could not be read, 5 when none broke
but a gating threshold was not measured (too few samples: ``loadtests.thresholds.needed``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from loadtests import idempotency
from loadtests.thresholds import (
    broken,
    evaluate,
    format_table,
    load_thresholds,
    unmeasured,
    write_verdict,
)

logger = logging.getLogger("paysim.gate")
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
EXIT_BROKEN, EXIT_BAD_THRESHOLDS, EXIT_NOT_MEASURED = 1, 2, 5


def observe(environment: Environment) -> dict[str, Any]:
    """The run's figures as :func:`loadtests.thresholds.evaluate` takes them."""
    stats = environment.stats
    assert stats is not None
    ops = {}
    for entry in stats.entries.values():
        if not entry.num_requests and not entry.num_failures:
            continue
        ops[f"{entry.method} {entry.name}"] = {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            **{k: entry.get_response_time_percentile(p) for k, p in PERCENTILES.items()},
        }
    counts = idempotency.totals()
    total = stats.total
    options = environment.parsed_options
    api = getattr(options, "api", "both") if options is not None else "both"
    return {
        "apis": ["freefin", "kaspi"] if api == "both" else [api],
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": round(total.total_rps, 2),
        **{k: total.get_response_time_percentile(p) for k, p in PERCENTILES.items()},
        "duration_s": round((total.last_request_timestamp or 0) - (total.start_time or 0), 1),
        "replays": counts.replays,
        "races": counts.races,
        "duplicates": counts.duplicates,
        "duplicate_examples": counts.examples,
        "idempotency_by_kind": {
            k: {"replays": r, "races": c, "duplicates": d}
            for k, (r, c, d) in sorted(counts.by_kind.items())
        },
        "reporting_workers": idempotency.reporting_workers(),
        "operations": ops,
    }


@events.quitting.add_listener
def judge_run(environment: Environment, **_: Any) -> None:
    """Evaluate the profile's thresholds and set the exit code from them."""
    if isinstance(environment.runner, WorkerRunner):
        return  # workers hold a share; the master judges the merged statistics
    options = environment.parsed_options
    assert options is not None
    profile = options.load_profile
    try:
        thresholds = load_thresholds(profile, options.thresholds)
    except (OSError, ValueError) as exc:
        logger.error("thresholds: %s", exc)
        environment.process_exit_code = EXIT_BAD_THRESHOLDS
        return
    if getattr(options, "csv_prefix", None):
        # Locust rewrites its CSV once a second; one more round after the last request makes
        # the CSV files hold the same final figures as the verdict.
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)
    observed = observe(environment)
    checks = evaluate(thresholds, observed)
    print(
        f"\npaysim load profile {profile!r}: idempotent replays {observed['replays']}, "
        f"races {observed['races']}, duplicates created {observed['duplicates']}"
    )
    print(format_table(checks), flush=True)
    run_dir = Path(options.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_verdict(run_dir / "thresholds.json", profile, observed, checks)
    if broken(checks):
        environment.process_exit_code = EXIT_BROKEN
    elif unmeasured(checks):
        environment.process_exit_code = EXIT_NOT_MEASURED
    else:
        environment.process_exit_code = 0
