"""A soak: one simulator under a long mixed run, with what it keeps measured as it goes.

Clients create, read and refund freefin payments (an Idempotency-Key each, retried on a 5xx or a
dropped answer), create and list Kaspi invoices, and now and then send a key nobody knows; the
chaos profile ``flaky`` answers some of it with faults; clients are graded (``--grade-clients``);
every payment and invoice notifies a webhook receiver; two clients follow the event stream
(SSE), reconnecting when cut; and the simulated clock moves ``--days`` days over the run, so
that retention (a week of simulated time) comes into play.

The clients are threads, each on one kept-alive connection of the standard library's
http.client (made again when the server drops it): a client this cheap leaves the machine's CPU
to the server. The run ends after ``--requests`` requests (when given) or ``--seconds``,
whichever comes first; the clock moves with whichever of the two is further along.

It prints, at the start, every tenth of the run and at the end: requests sent, the server's
memory (RSS of its process tree), the store's size on disk and the rows of each table, the
deliveries not yet final apart, and the bytes of the objects (payments, invoices), the only rows
kept for good. Run: ``python -m benchmarks.bench_soak [--requests 200000] [--seconds 3000]
[--connections 24] [--days 30]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests

from harness.simproc import SimulatorProcess

FF = "/api/v1/public"
FF_KEY = "sk_test_rom001_Jq7Zt2xVw9LmN4pR"
FF_TERMINAL = "0b6a3f12-9c4d-4e8a-b1f7-5d2c8e9a4b01"
KP_KEY = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"
TABLES = ("objects", "events", "deliveries", "idempotency", "client_requests", "timers")


class Counter:
    """Counts shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {"requests": 0, "5xx": 0, "dropped": 0, "webhooks": 0}
        self.counts["sse_events"] = 0

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n


def _receiver(counter: Counter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # the sender keeps its connections

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            counter.add("webhooks")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Connection:
    """One client's kept-alive connection, made again after the server dropped it."""

    def __init__(self, base: str, counter: Counter) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.counter = counter
        self.http: http.client.HTTPConnection | None = None

    def send(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, bytes] | None:
        """The status and body of the answer; None when the connection was dropped."""
        self.counter.add("requests")
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        try:
            if self.http is None:
                self.http = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.http.request(method, path, body=data, headers=headers)
            answer = self.http.getresponse()
            payload = answer.read()
            if answer.will_close:
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            self.counter.add("dropped")
            return None
        if answer.status >= 500:
            self.counter.add("5xx")
        return answer.status, payload

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None


def _client(base: str, counter: Counter, stop: threading.Event, n: int) -> None:
    """One client's mixed traffic until ``stop``."""
    ff = {"Authorization": f"Bearer {FF_KEY}"}
    kp = {"X-API-Key": KP_KEY}
    paid: list[str] = []
    conn = Connection(base, counter)
    i = 0
    while not stop.is_set():
        i += 1
        key = str(uuid.uuid4())
        body = {"amount": 10000, "order_id": f"soak-{n}-{i}"}
        for _ in range(3):  # a 5xx or a lost answer: the same key again
            made = conn.send("POST", f"{FF}/payments", {**ff, "Idempotency-Key": key}, body)
            if made is not None and made[0] < 500:
                break
        if made is not None and made[0] in (200, 201):
            paid = [*paid[-20:], json.loads(made[1])["payment"]["id"]]
        if paid:
            conn.send("GET", f"{FF}/payments/{paid[i % len(paid)]}", ff)
        if paid and i % 5 == 0:
            conn.send("POST", f"{FF}/payments/{paid[0]}/refund",
                      {**ff, "Idempotency-Key": key}, {"amount": 100})  # fmt: skip
        if i % 3 == 0:
            invoice = {"amount": 500, "phone_number": "77011234567", "description": "soak"}
            conn.send("POST", "/api/v1/invoices", {**kp, "Idempotency-Key": key}, invoice)
            conn.send("GET", "/api/v1/invoices?page=1", kp)
        if i % 10 == 0:  # a key nobody knows: counted, not logged
            conn.send("GET", f"{FF}/banks/sbp", {"Authorization": f"Bearer sk_test_nobody_{key}"})
    conn.close()


def _stream(base: str, counter: Counter, stop: threading.Event) -> None:
    """One client following the freefin event stream, resuming after a cut."""
    last: str | None = None
    while not stop.is_set():
        headers = {"Authorization": f"Bearer {FF_KEY}", "Accept": "text/event-stream"}
        if last:
            headers["Last-Event-ID"] = last
        try:
            with requests.get(f"{base}{FF}/events", headers=headers, stream=True,
                              timeout=(5, 5)) as answer:  # fmt: skip
                for line in answer.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith(b"id:"):
                        last = line[3:].strip().decode()
                        counter.add("sse_events")
        except requests.RequestException:
            time.sleep(0.2)


def _clock(base: str, stop: threading.Event, progress: Callable[[], float], days: float) -> None:
    """The simulated clock moved with the run's progress (0 to 1) to ``days``, in steps of a
    hundredth at most; the rest when the run ends."""
    moved = 0.0
    while True:
        stopped = stop.wait(1.0)
        share = 1.0 if stopped else min(1.0, progress())
        step = days * 86400 * share - moved
        if stopped or step >= days * 86400 / 100:
            requests.post(f"{base}/_sim/clock/advance", json={"seconds": step}, timeout=120)
            moved += step
        if stopped:
            return


def _sample(sim: SimulatorProcess, counter: Counter, started: float) -> dict[str, Any]:
    assert sim.proc is not None
    root = psutil.Process(sim.proc.pid)
    rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    db = Path(sim.db_path)
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
        rows["deliveries_pending"] = conn.execute(  # not final: given up past retention
            "SELECT COUNT(*) FROM deliveries WHERE status NOT IN ('delivered', 'dead')"
        ).fetchone()[0]
        rows["given_up"] = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE last_error LIKE 'given up%'"
        ).fetchone()[0]
        objects = conn.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM objects").fetchone()
    rows["objects_mb"] = round(objects[0] / 2**20, 1)
    clock = requests.get(f"{sim.url}/_sim/clock", timeout=30).json()
    with counter.lock:
        counts = dict(counter.counts)
    return {
        "t_s": round(time.monotonic() - started, 1),
        "sim_days": round(float(clock.get("offset_s", clock.get("offset", 0))) / 86400, 1),
        **counts,
        "rss_mb": round(rss / 2**20, 1),
        "store_mb": round(size / 2**20, 1),
        **rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1800.0, help="the run's bound")
    parser.add_argument("--requests", type=int, default=0, help="end after this many (0: time)")
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--json", type=Path, help="write the samples here")
    args = parser.parse_args()
    counter = Counter()
    receiver = _receiver(counter)
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    extra = ["--grade-clients", "--chaos", "flaky", "--threads", str(args.connections + 8)]
    samples = []
    with SimulatorProcess(extra_args=extra) as sim:
        base = sim.url
        requests.post(f"{base}/_sim/webhooks/endpoint", timeout=10,
                      json={"api": "freefin", "terminal_id": FF_TERMINAL, "url": hook})  # fmt: skip
        requests.post(f"{base}/api/v1/webhooks", timeout=10, headers={"X-API-Key": KP_KEY},
                      json={"url": hook, "events": ["invoice.paid"]})  # fmt: skip
        stop = threading.Event()
        started = time.monotonic()

        def progress() -> float:
            by_time = (time.monotonic() - started) / args.seconds
            with counter.lock:
                sent = counter.counts["requests"]
            return max(by_time, sent / args.requests if args.requests else 0.0)

        samples.append(_sample(sim, counter, started))
        threads = [
            threading.Thread(target=_client, args=(base, counter, stop, n), daemon=True)
            for n in range(args.connections)
        ]
        threads += [
            threading.Thread(target=_stream, args=(base, counter, stop), daemon=True)
            for _ in range(2)
        ]
        threads.append(
            threading.Thread(target=_clock, args=(base, stop, progress, args.days), daemon=True)
        )
        for thread in threads:
            thread.start()
        columns = list(samples[0])
        print(" ".join(f"{c:>12}" for c in columns), flush=True)
        print(" ".join(f"{samples[0][c]!s:>12}" for c in columns), flush=True)
        for tenth in range(1, 11):
            while progress() < tenth / 10:
                time.sleep(min(0.5, args.seconds / 100))
            if tenth == 10:
                stop.set()
                for thread in threads:
                    thread.join(150)
            samples.append(_sample(sim, counter, started))
            print(" ".join(f"{samples[-1][c]!s:>12}" for c in columns), flush=True)
    receiver.shutdown()
    picked = {"start": samples[0], "half-way": samples[5], "end": samples[-1]}
    for name, sample in picked.items():
        print(f"{name:>9}: {sample['requests']} requests, {sample['sim_days']} simulated days, "
              f"RSS {sample['rss_mb']} MB, store {sample['store_mb']} MB "
              f"(objects {sample['objects_mb']} MB), events {sample['events']}, "
              f"deliveries {sample['deliveries']} ({sample['deliveries_pending']} pending, "
              f"{sample['given_up']} given up), "
              f"client log {sample['client_requests']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(samples, indent=2))


if __name__ == "__main__":
    main()
