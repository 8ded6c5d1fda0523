"""What grading a client log costs: ``GET /_sim/clients/report``'s work (the log read, every
rule judged per client) over logs of growing size, beside the bare read of the same log in the
same run.

The log is one client's day and a half, over and over: creates with their keys, a share failing
(a lost answer retried, an outage of 503s retried with backoff, a 429 waited out), status reads,
a stream reopened. Grading must grow like the read: linear, so that the time per logged request
stays flat as the log grows (the figure that counts), and 100,000 requests take seconds.
Run: ``python -m benchmarks.bench_report [--sizes 25000,50000,100000]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from simulator.core.engines import open_store
from simulator.core.store import Store
from simulator.grading import client_log, client_report, operations

PAYMENTS = "/api/v1/public/payments"
CLIENTS = 4  # credentials the log is shared among


def _row(
    n: int, at: float, client: str, method: str, url: str, body: str, status: int, key: str | None
) -> tuple[Any, ...]:
    operation = operations.match("freefin", method, url.split("?")[0])
    problems = operation.problems(body.encode(), {}, {}, url) if operation else []
    return (
        "freefin",
        client,
        operation.name if operation else "",
        method,
        url,
        json.dumps({"Idempotency-Key": key} if key else {}),
        body,
        hashlib.sha256(body.encode()).hexdigest(),
        key,
        status,
        1.0 if status == 429 else None,
        None,
        None,
        json.dumps([p.to_dict() for p in problems]),
        at,
    )


def _day(n: int, client: str, start: float) -> list[tuple[Any, ...]]:
    """One order's requests: a create (every fifth loses its answer and is retried, every
    seventh meets an outage of four 503s and backs off, every eleventh a 429), reads, and a
    refund."""
    key = f"key-{client}-{n}"
    body = json.dumps({"amount": 100 + n, "currency": "RUB", "method": "sbp", "order_id": key})
    at, rows = start, []
    statuses = [201]
    if n % 5 == 0:
        statuses = [500, 201]
    elif n % 7 == 0:
        statuses = [503, 503, 503, 503, 201]
    elif n % 11 == 0:
        statuses = [429, 201]
    for status in statuses:
        rows.append(_row(n, at, client, "POST", PAYMENTS, body, status, key))
        at += 0.2 * len(rows) ** 2
    url = f"{PAYMENTS}/00000000-0000-4000-8000-{n:012d}"
    for _ in range(3):
        rows.append(_row(n, at, client, "GET", url, "", 200, None))
        at += 1.5
    refund = json.dumps({"amount": 10})
    rows.append(_row(n, at, client, "POST", url + "/refund", refund, 201, key + "-r"))
    return rows


def fill(store: Store, size: int) -> None:
    rows: list[tuple[Any, ...]] = []
    n = 0
    while len(rows) < size:
        client = f"client-{n % CLIENTS}"
        rows += _day(n, client, 1_000_000.0 + n * 20.0)
        n += 1
    with store.tx() as tx:
        for row in rows[:size]:
            tx.execute(
                "INSERT INTO client_requests (api, client, operation, method, url, headers, "
                "body, body_hash, idempotency_key, status, retry_after, error_code, "
                "error_message, problems, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )


def measure(size: int, tmp: Path) -> dict[str, float]:
    store = open_store(str(tmp / f"log-{size}.db"))
    try:
        fill(store, size)
        started = time.perf_counter()
        read = client_log.entries(store)
        read_s = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        graded = client_report.report(store, exam_on=True)
        report_s, report_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.close()
    assert len(read) == size and sum(c["requests"] for c in graded["clients"]) == size
    return {
        "requests": float(size),
        "read_s": read_s,
        "report_s": report_s,
        "report_cpu_s": report_cpu_s,  # the machine is shared: its own CPU time, too
        "us_per_request": report_s / size * 1e6,
        "vs_read": report_s / read_s if read_s else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="25000,50000,100000", help="log sizes, comma-separated")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        for size in (int(s) for s in args.sizes.split(",")):
            rows[str(size)] = measure(size, Path(tmp_name))
    print(
        f"{'requests':>10}{'read s':>10}{'report s':>10}{'cpu s':>8}{'us/request':>12}"
        f"{'vs read':>9}"
    )
    for row in rows.values():
        print(
            f"{int(row['requests']):>10}{row['read_s']:>10.2f}{row['report_s']:>10.2f}"
            f"{row['report_cpu_s']:>8.2f}{row['us_per_request']:>12.1f}{row['vs_read']:>8.1f}x"
        )
    first, last = rows[min(rows, key=int)], rows[max(rows, key=int)]
    growth = last["us_per_request"] / first["us_per_request"] if first["us_per_request"] else 0
    print(f"time per request, largest log over smallest: {growth:.2f} (linear: about 1)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
