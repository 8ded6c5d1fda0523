"""What client grading costs: the simulator plain, with ``--grade-clients``, and behind the
validating proxy (``paysim proxy``, itself recording and judging), in the same run.

Each configuration serves the same reads and creates over the same persistent connections; the
figures that count are the ratios to the plain simulator measured beside them, and the CPU per
request of the server's process tree (the proxy's tree added to the simulator's where it stands
in front). Run: ``python -m benchmarks.bench_grading [--seconds 5] [--connections 16]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.bench_simulator import FF, FFA, _bench_seed, _cpu, measure, quiesce, report
from harness.simproc import SimulatorProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
CASES = ("payment_get", "payment_create_held")


def _proxy(upstream: str, tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.proxy",
            "--api",
            "freefin",
            "--upstream",
            upstream,
            "--port",
            str(port),
            "--db",
            str(tmp / f"proxy-{port}.db"),
            "--log-level",
            "warning",
            *extra,
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1).ok:
                return proc, port
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the proxy did not start")


def through(
    proxy: int, port: int, server: int, case: str, ids: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """One case measured through the proxy (pid ``proxy``) on ``port``: the proxy's CPU is
    counted in the cores the case kept busy and in its CPU per request."""
    quiesce(server)
    before = _cpu(proxy)
    row = measure(port, case, ids, args.seconds, args.connections, server_pid=server)
    served = row["rps"] * args.seconds
    proxy_cpu = _cpu(proxy) - before
    row["cores"] += proxy_cpu / args.seconds
    if served:
        row["cpu_ms"] += proxy_cpu / served * 1000
    return row


def _ids(base: str, n: int) -> list[str]:
    with requests.Session() as http:
        return [
            http.post(f"{base}{FF}/payments", headers=FFA, json={"amount": 1616}, timeout=5).json()[
                "payment"
            ]["id"]
            for _ in range(n)
        ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seed = str(_bench_seed(tmp))
        for config, extra in (("plain", []), ("graded", ["--grade-clients"])):
            with SimulatorProcess(
                db_path=str(tmp / f"{config}.db"), extra_args=["--seed-file", seed, *extra]
            ) as sim:
                assert sim.proc is not None
                ids = _ids(sim.url, 200)
                for case in CASES:
                    quiesce(sim.proc.pid)
                    rows[f"{config} {case}"] = measure(
                        sim.port,
                        case,
                        ids,
                        args.seconds,
                        args.connections,
                        server_pid=sim.proc.pid,
                    )
                if config == "plain":
                    proxy, port = _proxy(sim.url, tmp)
                    try:
                        for case in CASES:
                            rows[f"proxied {case}"] = through(
                                proxy.pid, port, sim.proc.pid, case, ids, args
                            )
                    finally:
                        proxy.terminate()
                        proxy.wait(10)
    report(rows, lambda name: rows[f"plain {name.split(' ', 1)[1]}"]["rps"], "vs plain", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
