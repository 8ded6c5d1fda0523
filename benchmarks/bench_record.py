"""What recording costs the proxy: ``paysim proxy`` plain and with ``--record FILE``, before the
same simulator, in the same run.

Each configuration serves the same reads and creates over the same persistent connections, in
alternating rounds (each keeps its best); the figure that counts is the recording proxy's
throughput as a ratio of the plain proxy's, measured beside it (the goal: at least 0.8).
Run: ``python -m benchmarks.bench_record [--seconds 5] [--connections 16] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.bench_grading import CASES, _ids, _proxy, through
from benchmarks.bench_simulator import _bench_seed, report
from harness.simproc import SimulatorProcess


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seed = str(_bench_seed(tmp))
        with SimulatorProcess(db_path=str(tmp / "sim.db"), extra_args=["--seed-file", seed]) as sim:
            assert sim.proc is not None
            ids = _ids(sim.url, 200)
            proxies = {
                "proxied": _proxy(sim.url, tmp),
                "recording": _proxy(sim.url, tmp, "--record", str(tmp / "s.har")),
            }
            try:
                # rounds alternate the two, so that a neighbour's burst on a shared machine
                # falls on both; each keeps its best round
                for _round in range(args.rounds):
                    for case in CASES:
                        for config, (proxy, port) in proxies.items():
                            row = through(proxy.pid, port, sim.proc.pid, case, ids, args)
                            name = f"{config} {case}"
                            if name not in rows or row["rps"] > rows[name]["rps"]:
                                rows[name] = row
            finally:
                for proxy, _port in proxies.values():
                    proxy.terminate()
                    proxy.wait(10)
    report(
        rows, lambda name: rows[f"proxied {name.split(' ', 1)[1]}"]["rps"], "vs proxied", args.json
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
