"""Capacity probe: the throughput a target sustains for an API's mix before p99 passes a limit.

    python -m loadtests.capacity --api freefin            # bundled simulator, raised limits
    python -m loadtests.capacity --api kaspi --target-url http://host:8080 --levels 8,16,32

Runs the API's personas, think times included (so the mix stays the partners' mix: without
them the cheapest reads would crowd out the rest), at increasing user counts, a short run per
level, and reports throughput and latency per level in its steady state (the last 10 seconds,
after the spawn's burst); the capacity is the highest throughput whose p99 stayed within
``--p99-ms`` (default 100) with under 1 % errors. It also
reports the CPU the Locust process spent (its share of a core, and requests per CPU-second:
the throughput one Locust process can generate with these personas), so that a level where the
generator, not the target, ran out of CPU can be told apart.

With no target, the bundled simulator is started with its seed's rate limits raised: the probe
measures the server, not the per-merchant token bucket (200 req/s per seed merchant).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from harness.simproc import SimulatorProcess
from harness.target import SEED_FILE, bundled_credentials
from loadtests.run import run_profile

RECORD_ONLY = "smoke:\n  error_rate: 1.0\n"  # the probe records; it does not gate


def unlimited_seed(path: Path) -> Path:
    """The bundled seed with every merchant's rate limit raised out of the way."""
    seed = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    for api in ("freefin", "kaspi"):
        for merchant in seed.get(api, {}).get("merchants", []):
            merchant["rate_limit"] = {"rate": 100_000, "burst": 100_000}
    path.write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    return path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def steady_state(history: Path, window: int = 10) -> dict[str, float]:
    """Throughput and p99 of the last ``window`` seconds, after the spawn's transient.

    Locust's history rows carry percentiles over a sliding 10-second window, so the last row's
    99 % is the p99 of the last 10 seconds.
    """
    with open(history, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
    tail = [r for r in rows if r["99%"] not in ("N/A", "")][-window:]
    if not tail:
        return {"rps": 0.0, "p50": 0.0, "p99": 0.0}
    return {
        "rps": round(sum(float(r["Requests/s"]) for r in tail) / len(tail), 1),
        "p50": float(tail[-1]["50%"]),
        "p99": float(tail[-1]["99%"]),
    }


def probe_level(
    target: str, api: str, users: int, seconds: float, out: Path, think_scale: float
) -> dict[str, Any]:
    """One run at ``users`` users (per API); its figures."""
    thresholds = out / "record-only.yaml"
    thresholds.write_text(RECORD_ONLY, encoding="utf-8")
    cpu_before, started = children_cpu(), time.monotonic()
    run_profile(
        "smoke",
        target,
        None,
        bundled_credentials(),
        out / f"users-{users}",
        api=api,
        shape_params={"users": users, "spawn_rate": max(users / 2, 1), "duration": seconds},
        thresholds=thresholds,
        extra_args=["--think-scale", str(think_scale)],
    )
    cpu, wall = children_cpu() - cpu_before, time.monotonic() - started
    run_dir = out / f"users-{users}"
    observed = json.loads((run_dir / "thresholds.json").read_text())["observed"]
    requests_made = observed["requests"]
    steady = steady_state(run_dir / "stats_stats_history.csv")
    return {
        "users": users * (2 if api == "both" else 1),
        **steady,
        "whole_run": {"rps": observed["rps"], "p99": observed["p99"]},
        "errors": observed["failures"],
        "requests": requests_made,
        # Locust's start-up is in the CPU time too; over the whole wall time it stays a share.
        "locust_cpu_share": round(cpu / wall, 2),
        "req_per_locust_cpu_s": round(requests_made / cpu) if cpu else None,
    }


def probe(
    target: str,
    api: str,
    levels: Sequence[int],
    seconds: float,
    p99_ms: float,
    out: Path,
    reset_url: str | None,
    think_scale: float = 1.0,
) -> dict[str, Any]:
    """Every level in turn (stopping two levels after p99 passed the limit)."""
    rows: list[dict[str, Any]] = []
    over = 0
    for users in levels:
        if reset_url:
            requests.post(reset_url, timeout=10).raise_for_status()
        row = probe_level(target, api, users, seconds, out, think_scale)
        rows.append(row)
        print(json.dumps(row), flush=True)
        over += row["p99"] > p99_ms
        if over >= 2:
            break
    within = [r for r in rows if r["p99"] <= p99_ms and r["errors"] <= 0.01 * r["requests"]]
    best = max(within, key=lambda r: r["rps"]) if within else None
    return {"api": api, "p99_limit_ms": p99_ms, "levels": rows, "capacity": best}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.capacity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--api", default="freefin", choices=["freefin", "kaspi", "both"])
    parser.add_argument(
        "--levels",
        default="25,50,100,200,400,800",
        help="users per level (per API), comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=25.0, help="length of each level")
    parser.add_argument(
        "--think-scale",
        type=float,
        default=1.0,
        help="scale the personas' think times (smaller: more load per user)",
    )
    parser.add_argument("--p99-ms", type=float, default=100.0)
    parser.add_argument("--target-url", help="probe this server instead of the bundled one")
    parser.add_argument("--out", default="load-runs")
    args = parser.parse_args(argv)
    out = Path(args.out) / f"capacity-{args.api}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    levels = [int(x) for x in args.levels.split(",")]
    if args.target_url:
        result = probe(
            args.target_url,
            args.api,
            levels,
            args.seconds,
            args.p99_ms,
            out,
            None,
            args.think_scale,
        )
    else:
        seed = unlimited_seed(out / "seed-unlimited.yaml")
        with SimulatorProcess(extra_args=["--seed-file", str(seed)]) as sim:
            result = probe(
                sim.url,
                args.api,
                levels,
                args.seconds,
                args.p99_ms,
                out,
                f"{sim.url}/_sim/reset",
                args.think_scale,
            )
    (out / "capacity.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    best = result["capacity"]
    print(
        f"capacity ({args.api} mix, p99 <= {args.p99_ms:g} ms): "
        + (f"{best['rps']} req/s at {best['users']} users" if best else "none within limit")
    )
    print(f"results: {out / 'capacity.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
