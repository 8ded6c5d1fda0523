"""The app's own CPU per request, in-process, with no HTTP server and no client: the simulator's
WSGI callable (behind the edge the server puts before it) and the bare Flask + SQLite endpoint,
each called with ready-made requests on one thread, its CPU time counted by that thread alone.

A worker is bound by its interpreter lock, so this CPU is what bounds its throughput, less
what the server adds. Each case runs in a child process of its own, in rounds, keeping its
best. ``--against DIR`` (repeatable) runs the same cases over another copy of the source tree
(an older commit, ``git archive``) in alternating rounds, so all are measured in one run;
``--profile CASE`` prints where that case's CPU goes (cProfile). Run:
``python -m benchmarks.bench_inprocess [--requests 3000] [--rounds 3] [--against DIR]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_test_rom001_Jq7Zt2xVw9LmN4pR"
SECRET = "ss_rom001_e8c1b7a2f4d94c6e"  # that terminal's signing secret (the bundled seed)
KASPI_KEY = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"
FF = "/api/v1/public"
CASES = ("bare_create", "payment_create", "payment_get", "invoice_create")

Environ = dict[str, Any]


def _environ(method: str, path: str, body: Any, headers: dict[str, str]) -> Environ:
    raw = json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    environ: Environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if raw:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(raw))
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _signed(body: dict[str, Any], i: int) -> tuple[dict[str, Any], dict[str, str]]:
    import hashlib
    import hmac

    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return body, {
        "Authorization": f"Bearer {KEY}",
        "Idempotency-Key": f"bench-{os.getpid()}-{i}",
        "X-Freefin-Signature": signature,
    }


def requests_of(case: str, ids: list[str], i: int) -> Environ:
    """The ``i``-th request of ``case``."""
    if case == "bare_create":
        return _environ("POST", "/bare", {"amount": 150000, "order_id": f"o{i}"}, {})
    if case == "payment_create":
        body, headers = _signed({"amount": 150000, "order_id": f"o{i}"}, i)
        return _environ("POST", f"{FF}/payments", body, headers)
    if case == "payment_get":
        auth = {"Authorization": f"Bearer {KEY}"}
        return _environ("GET", f"{FF}/payments/{ids[i % len(ids)]}", None, auth)
    if case == "invoice_create":
        body = {"amount": 10000, "phone_number": "77011234567", "external_order_id": f"o{i}"}
        headers = {"X-API-Key": KASPI_KEY, "Idempotency-Key": f"bench-{os.getpid()}-{i}"}
        return _environ("POST", "/api/v1/invoices", body, headers)
    raise ValueError(case)


def _app(case: str, tmp: Path) -> Callable[..., Any]:
    if case == "bare_create":
        os.environ["BARE_DB"] = str(tmp / "bare.db")
        from benchmarks.bare_app import app as bare

        return bare.wsgi_app
    import yaml

    from simulator.app import create_app
    from simulator.server import BodyPlaces, edge

    seed = yaml.safe_load((ROOT / "simulator" / "seed.yaml").read_text(encoding="utf-8"))
    for api in ("freefin", "kaspi"):
        for merchant in seed[api]["merchants"]:
            merchant["rate_limit"] = {"rate": 1e6, "burst": 1e6}
    (tmp / "seed.yaml").write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    config = {"DATABASE": str(tmp / "sim.db"), "SEED_FILE": str(tmp / "seed.yaml")}
    return edge(create_app({**config, "TICKER": False}), BodyPlaces(8))


def _call(app: Callable[..., Any], environ: Environ) -> tuple[str, bytes]:
    seen: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        seen.append(status)

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return seen[0], body


def run(case: str, count: int, profile: bool = False, threads: int = 1) -> dict[str, Any]:
    """CPU per request of ``count`` requests of ``case``, after a warm-up: on this thread, or
    shared among ``threads`` threads at once (then the process's CPU: what they cost each
    other, waiting on the interpreter lock and the store's write lock, counts too)."""
    with tempfile.TemporaryDirectory() as tmp_name:
        app = _app(case, Path(tmp_name))
        ids: list[str] = []
        if case == "payment_get":
            for n in range(200):
                _, made = _call(app, requests_of("payment_create", [], -1 - n))
                ids.append(json.loads(made)["payment"]["id"])
        warm = [requests_of(case, ids, -1000 - n) for n in range(200)]
        ready = [requests_of(case, ids, n) for n in range(count)]
        for environ in warm:
            _call(app, environ)
        profiler = cProfile.Profile() if profile else None
        bad = [0]

        def serve(share: list[Environ]) -> None:
            for environ in share:
                status, _ = _call(app, environ)
                bad[0] += not status.startswith(("200", "201"))

        clock = time.thread_time if threads == 1 else time.process_time
        started = clock()
        if profiler:
            profiler.enable()
        if threads == 1:
            serve(ready)
        else:
            import threading

            pool = [
                threading.Thread(target=serve, args=(ready[n::threads],)) for n in range(threads)
            ]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        if profiler:
            profiler.disable()
        cpu = clock() - started
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            print(out.getvalue())
    return {"cpu_ms": cpu / count * 1000, "errors": bad[0]}


def _child(tree: Path, case: str, count: int, threads: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv = ["--child", case, "--requests", str(count), "--threads", str(threads)]
    done = subprocess.run(
        [sys.executable, __file__, *argv],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _trees(args: argparse.Namespace) -> Iterator[tuple[str, Path]]:
    yield "this tree", ROOT
    for other in args.against:
        yield other, Path(other).resolve()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads sending the requests at once (default 1: the CPU of that thread alone)",
    )
    ap.add_argument(
        "--against",
        action="append",
        default=[],
        help="another copy of the source tree, measured alike (may be given again)",
    )
    ap.add_argument("--profile", metavar="CASE", help="print where CASE's CPU goes, and stop")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run(args.child, args.requests, threads=args.threads)))
        return 0
    if args.profile:
        print(run(args.profile, args.requests, profile=True, threads=args.threads))
        return 0
    cases = args.cases.split(",")
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for case in cases:
            for name, tree in _trees(args):
                row = _child(tree, case, args.requests, args.threads)
                key = f"{case} ({name})"
                if key not in best or row["cpu_ms"] < best[key]["cpu_ms"]:
                    best[key] = row
    width = max(len(key) for key in best) + 2
    print(f"{'case':<{width}}{'cpu ms/req':>12}{'errors':>8}{'vs bare':>9}")
    for key, row in best.items():
        bare = best.get(f"bare_create ({key.split(' (', 1)[1]}", {}).get("cpu_ms", 0.0)
        row["vs_bare"] = bare / row["cpu_ms"] if bare and row["cpu_ms"] else 0.0
        print(f"{key:<{width}}{row['cpu_ms']:>12.3f}{int(row['errors']):>8}{row['vs_bare']:>8.0%}")
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
