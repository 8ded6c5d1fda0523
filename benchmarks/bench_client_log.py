"""What keeping each answer costs the client log's write path: ``client_log.record`` (one write
transaction per request, as the simulator makes it) without the answer and with it, on the same
store, in the same run.

Three answers: a payment as freefin's create answers it (about 600 bytes), an answer with a
``secret`` field (masked before it is kept, so parsed), and a list longer than the cap (cut at
``ANSWER_KEPT``). Rounds alternate the configurations and each keeps its best, so that a
neighbour's burst on a shared machine falls on all of them; the figures that count are the time
per request as a ratio to the same request logged without its answer, and the store's bytes per
row. Run: ``python -m benchmarks.bench_client_log [--requests 2000] [--rounds 3]
[--postgresql]`` (``--postgresql``: on a PostgreSQL of its own too, Debian's, as the tests start
it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from simulator.core.engines import open_store
from simulator.core.store import Store
from simulator.grading import client_log

PAYMENT = orjson.dumps(
    {
        "payment": {
            "id": "ccf36190-7bab-442b-920e-1f4eaa6d7740",
            "merchant_id": "6f0c2a4e-1b7d-4c39-9a51-2d8e6b0f3a11",
            "terminal_id": "0b6a3f12-9c4d-4e8a-b1f7-5d2c8e9a4b01",
            "terminal_name": "Ромашка · сайт",
            "amount": 20010,
            "amount_refunded": 0,
            "currency": "RUB",
            "method": "sbp",
            "status": "pending",
            "created_at": "2026-12-06T23:58:08.286Z",
            "expires_at": "2026-12-07T00:13:08.286Z",
            "metadata": {},
            "refunds": [],
            "order_id": "order-1",
        },
        "payment_url": "http://127.0.0.1:8080/pay/ccf36190-7bab-442b-920e-1f4eaa6d7740",
        "mode": "test",
        "idempotent": False,
    }
)
SECRET = orjson.dumps(
    {"id": "wh_0123456789", "url": "http://127.0.0.1:9/hook", "secret": "whsec_" + "a" * 32}
)
LIST = orjson.dumps({"items": [orjson.loads(PAYMENT)["payment"]] * 60, "total": 60})
ANSWERS = {"payment": PAYMENT, "secret": SECRET, "list": LIST}


def _answer(raw: bytes) -> Callable[[], client_log.Answered | None]:
    return lambda: client_log.answered(raw, "application/json")


def _write(
    store: Store, n: int, answer: Callable[[], client_log.Answered | None]
) -> tuple[float, float]:
    """Seconds per request to log ``n`` creates, each in its own write transaction: on the
    wall clock, and of this process's CPU (steadier on a shared machine)."""
    body = b'{"amount": 20010, "currency": "RUB", "method": "sbp", "order_id": "order-1"}'
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k-1"}
    began, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        with store.tx() as tx:
            client_log.record(
                tx,
                api="freefin",
                client="sk_test_#0123456789…abcd",
                method="POST",
                path="/api/v1/public/payments",
                query={},
                headers=headers,
                body=body,
                status=201,
                retry_after=None,
                error=None,
                at=time.time(),
                answer=answer(),
            )
    return (time.perf_counter() - began) / n, (time.process_time() - cpu) / n


def _bytes(store: Store, url: str) -> int:
    """The log's size in the store: the SQLite file's, PostgreSQL's table with its indexes and
    its TOAST."""
    if url.startswith("postgresql"):
        with store.read() as tx:
            row = tx.execute("SELECT pg_total_relation_size('client_requests')").fetchone()
        return int(row[0])
    with store.read() as tx:
        pages = tx.execute("PRAGMA page_count").fetchone()[0]
        size = tx.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def _measure(
    urls: Callable[[str, int], str], requests: int, rounds: int
) -> dict[str, dict[str, float]]:
    configs: dict[str, Callable[[], client_log.Answered | None]] = {"no answer": lambda: None}
    for name, raw in ANSWERS.items():
        configs[f"{name} answer"] = _answer(raw)
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}
    per_row: dict[str, float] = {}
    for n in range(-1, rounds):  # round -1 warms up (imports, the seed's operations) untimed
        for name, answer in configs.items():
            url = urls(name, n)
            store = open_store(url)
            try:
                empty = _bytes(store, url)
                took, cpu = _write(store, requests if n >= 0 else 50, answer)
                full = _bytes(store, url)
            finally:
                store.close()
            if n < 0:
                continue
            best[name] = min(took, best.get(name, took))
            best_cpu[name] = min(cpu, best_cpu.get(name, cpu))
            per_row[name] = (full - empty) / requests
    base, base_cpu = best["no answer"], best_cpu["no answer"]
    return {
        name: {
            "us_per_request": round(took * 1e6, 1),
            "vs_no_answer": round(took / base, 3),
            "cpu_us_per_request": round(best_cpu[name] * 1e6, 1),
            "cpu_vs_no_answer": round(best_cpu[name] / base_cpu, 3),
            "bytes_per_row": round(per_row[name]),
        }
        for name, took in best.items()
    }


def _slug(name: str, n: int) -> str:
    """A fresh store's name for one configuration and round."""
    return f"b_{name.replace(' ', '_')}_{n + 1}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=2000, help="per configuration and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--postgresql", action="store_true", help="on PostgreSQL too")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        engines: dict[str, Callable[[str, int], str]] = {
            "sqlite": lambda name, n: str(Path(tmp) / f"{_slug(name, n)}.db")
        }
        if args.postgresql:
            from tests.pg import PostgresCluster  # Debian's binaries, a free port

            pg = stack.enter_context(PostgresCluster())
            engines["postgresql"] = lambda name, n: pg.database(_slug(name, n))
        for engine, urls in engines.items():
            for name, row in _measure(urls, args.requests, args.rounds).items():
                rows[f"{engine} {name}"] = row
    print(
        f"{'configuration':<27} {'µs/request':>11} {'vs no answer':>13} "
        f"{'CPU µs':>8} {'vs no answer':>13} {'bytes/row':>10}"
    )
    for name, row in rows.items():
        print(
            f"{name:<27} {row['us_per_request']:>11} {row['vs_no_answer']:>13} "
            f"{row['cpu_us_per_request']:>8} {row['cpu_vs_no_answer']:>13} "
            f"{row['bytes_per_row']:>10}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
