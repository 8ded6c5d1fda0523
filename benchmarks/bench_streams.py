"""Benchmark the API with a thousand event streams open on one worker, against none, in one run.

One simulator (1 worker, 32 request threads, SQLite, high rate limits) serves reads and creates
of payments at N kept-alive connections (default 32), first with no stream open and then with
``--streams`` streams open (default 1000) on the same worker: ``--followers`` of them (default
10) follow the merchant the creates are made for, so its events flow to them, and the rest
follow another merchant, quiet. A reader process of its own reads every stream. Rounds alternate
the two, each case keeping its best; the ratios are against the case with no stream, from the
same run. Also printed: the worker's memory (RSS) and threads with no stream, right before and
after the streams open (the growth per stream is taken between these two in the first round,
when the streams' threads are new; later rounds reuse them), and after they closed; and the
events the followers got. Run:
``python -m benchmarks.bench_streams [--seconds 5] [--streams 1000] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import selectors
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import requests

from benchmarks.bench_simulator import FF, FFA, KEY, _bench_seed, measure, quiesce, report
from harness.simproc import SimulatorProcess

QUIET_KEY = "sk_test_vas001_Lm8Np3Qr6St9Uv2W"  # another merchant: no event of the run is its
CASES = ("payment_get", "payment_create")
MIB = 1024 * 1024


def _read_streams(port: int, keys: list[str], ready: Any, stop: Any, out: Any) -> None:
    """Open a stream per key, say when all are open, read them all until told to stop; put
    how many events each key's streams got."""
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    for key in keys:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(
            f"GET {FF}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
        )
        socks.append(sock)
    got: dict[int, bytes] = {}
    for n, sock in enumerate(socks):  # every stream open before any load
        data = b""
        while b": connected" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"stream refused: {data[:300]!r}")
            data += chunk
        got[n] = b""
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, n)
    ready.set()
    events = dict.fromkeys(set(keys), 0)
    while not stop.is_set():
        for selected, _ in sel.select(0.2):
            n = selected.data
            with contextlib.suppress(BlockingIOError):
                chunk = selected.fileobj.recv(65536)  # type: ignore[union-attr]
                events[keys[n]] += chunk.count(b"\nevent: ")
    for sock in socks:
        sock.close()
    out.put(events)


@contextlib.contextmanager
def _streams(port: int, keys: list[str]) -> Iterator[Any]:
    ctx = mp.get_context("fork")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_read_streams, args=(port, keys, ready, stop, out))
    reader.start()
    deadline = time.monotonic() + 120
    while not ready.wait(1):
        if not reader.is_alive() or time.monotonic() > deadline:
            reader.kill()
            raise RuntimeError("the streams did not open (within 120 s)")
    got: dict[str, int] = {}
    try:
        yield got
    finally:
        stop.set()
        got.update(out.get(timeout=60))
        reader.join(10)


def _worker(pid: int) -> psutil.Process:
    """The server's one worker process (granian's child)."""
    (worker,) = psutil.Process(pid).children(recursive=True)
    return worker


def _held(sim: SimulatorProcess) -> int:
    return int(requests.get(f"{sim.url}/_sim/streams", timeout=10).json()["open"])


def _memory(label: str, worker: psutil.Process, sim: SimulatorProcess) -> dict[str, float]:
    row = {"rss_mib": worker.memory_info().rss / MIB, "threads": worker.num_threads()}
    print(
        f"worker {label:<26} RSS {row['rss_mib']:>7.1f} MiB  threads {row['threads']:>5}  "
        f"streams open {_held(sim)}"
    )
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--followers", type=int, default=10, help="streams the events flow to")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--payments", type=int, default=500, help="payments the reads go round")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    keys = [KEY] * args.followers + [QUIET_KEY] * (args.streams - args.followers)
    rows: dict[str, dict[str, float]] = {}
    memory: dict[str, dict[str, float]] = {}
    events: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        seed = _bench_seed(Path(tmp_name))
        extra = ["--seed-file", str(seed), "--threads", "32", "--sse-heartbeat", "25"]
        with SimulatorProcess(extra_args=extra) as sim:
            assert sim.proc is not None
            pid = sim.proc.pid
            worker = _worker(pid)
            with requests.Session() as http:
                ids = [
                    http.post(
                        f"{sim.url}{FF}/payments", headers=FFA, json={"amount": 10**6}
                    ).json()["payment"]["id"]
                    for _ in range(args.payments)
                ]
            memory["none open"] = _memory("with no stream", worker, sim)
            for _ in range(args.rounds):
                for label in ("0 streams", f"{args.streams} streams"):
                    with contextlib.ExitStack() as stack:
                        if label != "0 streams":
                            quiesce(pid)
                            before = _memory("before they open", worker, sim)
                            got = stack.enter_context(_streams(sim.port, keys))
                            opened = _memory(f"with {args.streams} open", worker, sim)
                            memory.setdefault("before", before)  # the first round's: the
                            memory.setdefault("open", opened)  # streams' threads are new
                        for case in CASES:
                            quiesce(pid)
                            row = measure(
                                sim.port,
                                case,
                                ids,
                                args.seconds,
                                args.connections,
                                server_pid=pid,
                            )
                            name = f"{case} ({label})"
                            if name not in rows or row["rps"] > rows[name]["rps"]:
                                rows[name] = row
                    if label != "0 streams":
                        events = got
            deadline = time.monotonic() + 10
            while _held(sim) and time.monotonic() < deadline:
                time.sleep(0.1)
            memory["closed"] = _memory("after they closed", worker, sim)
    report(
        rows,
        lambda name: rows[f"{name.split(' ')[0]} (0 streams)"]["rps"],
        "vs none",
    )
    print()
    for case in CASES:
        none, many = rows[f"{case} (0 streams)"], rows[f"{case} ({args.streams} streams)"]
        print(
            f"{case:<16} p99 {none['p99_ms']:.1f} ms with no stream, {many['p99_ms']:.1f} ms "
            f"with {args.streams} open ({many['p99_ms'] / none['p99_ms']:.2f}x)"
        )
    grown = memory["open"]["rss_mib"] - memory["before"]["rss_mib"]
    print(
        f"RSS with {args.streams} streams open: +{grown:.1f} MiB "
        f"({grown * 1024 / args.streams:.0f} KiB a stream)"
    )
    print(
        f"events read in the last round: {events.get(KEY, 0)} by the {args.followers} "
        f"followers, {events.get(QUIET_KEY, 0)} by the {args.streams - args.followers} others"
    )
    if args.json:
        figures = {**rows, **{f"memory {k}": v for k, v in memory.items()}}
        figures["events"] = {"followers": events.get(KEY, 0), "others": events.get(QUIET_KEY, 0)}
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
