"""What a stateful replay costs: a session of N exchanges (a create, then a read of what it
made, and so on) recorded through ``paysim proxy --record``, then replayed with ``--speed 0``
against a second simulator; beside it, in the same run, the same requests sent straight to a
third simulator by a plain loop (no ids to map, no keys, no comparison).

Run: ``python -m benchmarks.bench_replay [--exchanges 1000]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import requests

from benchmarks.bench_grading import _proxy
from benchmarks.bench_simulator import FF, FFA, _bench_seed
from harness.replay import session
from harness.replay.runner import Replay
from harness.simproc import SimulatorProcess
from harness.target import make_target


def _session(base: str, exchanges: int) -> None:
    """Creates and reads, half and half, each create with its own Idempotency-Key."""
    with requests.Session() as http:
        for n in range(exchanges // 2):
            headers = {**FFA, "Idempotency-Key": str(uuid.uuid4())}
            made = http.post(
                f"{base}{FF}/payments", json={"amount": 100 + n}, headers=headers, timeout=10
            ).json()["payment"]["id"]
            http.get(f"{base}{FF}/payments/{made}", headers=FFA, timeout=10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--exchanges", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=0, help="unused (the benchmarks' interface)")
    ap.add_argument("--connections", type=int, default=0, help="unused")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seed = str(_bench_seed(tmp))
        har = tmp / "session.har"
        with SimulatorProcess(db_path=str(tmp / "a.db"), extra_args=["--seed-file", seed]) as a:
            proxy, port = _proxy(a.url, tmp, "--record", str(har))
            try:
                _session(f"http://127.0.0.1:{port}", args.exchanges)
            finally:
                proxy.terminate()
                proxy.wait(10)
        exchanges = session.read(har)
        with SimulatorProcess(db_path=str(tmp / "b.db"), extra_args=["--seed-file", seed]) as b:
            started = time.monotonic()
            outcomes = Replay(make_target({}, bundled_url=b.url), speed=0).run(exchanges)
            rows["replay_s"] = time.monotonic() - started
        with SimulatorProcess(db_path=str(tmp / "c.db"), extra_args=["--seed-file", seed]) as c:
            started = time.monotonic()
            _session(c.url, args.exchanges)
            rows["plain_s"] = time.monotonic() - started
    rows["exchanges"] = len(exchanges)
    rows["differences"] = sum(1 for o in outcomes if o.differs)
    rows["ratio"] = rows["replay_s"] / rows["plain_s"] if rows["plain_s"] else 0.0
    print(
        f"{rows['exchanges']:.0f} exchanges: replayed in {rows['replay_s']:.2f} s "
        f"({rows['exchanges'] / rows['replay_s']:.0f}/s), sent plainly in {rows['plain_s']:.2f} s; "
        f"replay/plain {rows['ratio']:.2f}; {rows['differences']:.0f} differences"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
