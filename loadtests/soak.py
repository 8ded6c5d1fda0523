"""Soak run of the bundled simulator: steady load for a long time, memory sampled alongside.

    python -m loadtests.soak --api freefin --users 350 --minutes 10

Starts the simulator (its seed's rate limits raised, as for the capacity probe: the soak
measures the server, not the token bucket), samples the resident memory of its process tree
every ``--sample-s`` seconds into ``memory.csv``, runs the ``soak`` profile against it, and
writes ``soak.json``: memory at start and end, requests and errors, p99 over the first and
the last minute (from Locust's history, whose percentiles cover a sliding 10 s window).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from harness.simproc import SimulatorProcess
from harness.target import bundled_credentials
from loadtests.capacity import unlimited_seed
from loadtests.run import run_profile


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the server and its workers)."""
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):  # a thread's process may be gone
            total += p.memory_info().rss
    return round(total / 2**20, 1)


def sample_memory(pid: int, path: Path, every: float, stop: threading.Event) -> None:
    started = time.monotonic()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["seconds", "rss_mb"])
        while not stop.is_set():
            out.writerow([round(time.monotonic() - started), tree_rss_mb(pid)])
            fh.flush()
            stop.wait(every)


def p99_over_time(history: Path) -> list[tuple[int, float]]:
    """(seconds since start, p99 of the last 10 s) for every history row with data."""
    with open(history, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
    rows = [r for r in rows if r["99%"] not in ("N/A", "")]
    if not rows:
        return []
    t0 = int(rows[0]["Timestamp"])
    return [(int(r["Timestamp"]) - t0, float(r["99%"])) for r in rows]


def summarize(run_dir: Path) -> dict[str, Any]:
    observed = json.loads((run_dir / "thresholds.json").read_text())["observed"]
    with open(run_dir / "memory.csv", newline="", encoding="utf-8") as fh:
        samples = [(int(r["seconds"]), float(r["rss_mb"])) for r in csv.DictReader(fh)]
    memory = [mb for _, mb in samples]
    after_1_min = next((mb for t, mb in samples if t >= 60), None)
    p99 = p99_over_time(run_dir / "stats_stats_history.csv")
    first = [v for t, v in p99 if 50 <= t <= 70]  # after the spawn, the first full minute
    last = [v for t, v in p99[-10:]]
    return {
        "requests": observed["requests"],
        "errors": observed["failures"],
        "rps": observed["rps"],
        "duplicates": observed["duplicates"],
        "memory_mb_start": memory[0] if memory else None,
        "memory_mb_after_1_min": after_1_min,
        "memory_mb_end": memory[-1] if memory else None,
        "p99_ms_minute_1": max(first) if first else None,
        "p99_ms_last_10_s": max(last) if last else None,
        "p99_ms_whole_run": observed["p99"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--api", default="freefin", choices=["freefin", "kaspi", "both"])
    parser.add_argument("--users", type=int, default=350, help="users per API")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--out", default="load-runs")
    args = parser.parse_args(argv)
    run_dir = Path(args.out) / f"soak-{args.api}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = unlimited_seed(run_dir / "seed-unlimited.yaml")
    stop = threading.Event()
    with SimulatorProcess(extra_args=["--seed-file", str(seed)]) as sim:
        assert sim.proc is not None
        sampler = threading.Thread(
            target=sample_memory,
            args=(sim.proc.pid, run_dir / "memory.csv", args.sample_s, stop),
            daemon=True,
        )
        sampler.start()
        try:
            code = run_profile(
                "soak",
                sim.url,
                None,
                bundled_credentials(),
                run_dir,
                api=args.api,
                shape_params={
                    "users": args.users,
                    "spawn_rate": max(args.users / 10, 1),
                    "duration": args.minutes * 60,
                },
            )
        finally:
            stop.set()
            sampler.join(args.sample_s + 5)
    summary = {"exit_code": code, "users": args.users, **summarize(run_dir)}
    (run_dir / "soak.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    print(f"run folder: {run_dir}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
