"""python -m simulator: serve both APIs with granian on 127.0.0.1:8080 by default.

One worker process unless --workers N, each with --threads threads for requests: workers share
the store and, through it, the control state. Each open SSE stream holds a thread of its own,
beyond those: --streams of them per worker, and --streams-per-merchant of them per merchant.
Options also read PAYSIM_<OPTION> environment variables.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import sys
from typing import Any

from simulator import server
from simulator.core import retention
from simulator.core.faults import CHAOS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog=env("PAYSIM_PROG", "python -m simulator"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default=env("PAYSIM_HOST", "127.0.0.1"), help="[PAYSIM_HOST]")
    p.add_argument(
        "--port",
        type=int,
        default=int(env("PAYSIM_PORT", "8080")),
        help="[PAYSIM_PORT] default 8080",
    )
    p.add_argument(
        "--db",
        default=env("PAYSIM_DB", "paysim.db"),
        help="[PAYSIM_DB] SQLite file, :memory:, or postgresql://user@host:port/db "
        "(default paysim.db)",
    )
    p.add_argument(
        "--seed-file",
        default=env("PAYSIM_SEED_FILE"),
        help="[PAYSIM_SEED_FILE] merchants, keys and defaults (default: bundled)",
    )
    p.add_argument(
        "--script",
        default=env("PAYSIM_SCRIPT"),
        help="[PAYSIM_SCRIPT] YAML script of outcomes, faults and defects to load",
    )
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a named defect on (repeatable); see GET /_sim/defects",
    )
    p.add_argument(
        "--log-level",
        default=env("PAYSIM_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="[PAYSIM_LOG_LEVEL]",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=int(env("PAYSIM_THREADS", "32")),
        help="[PAYSIM_THREADS] request threads, a quarter at most waiting on request bodies "
        "(default 32); event streams have threads of their own (--streams)",
    )
    p.add_argument(
        "--streams-per-merchant",
        type=int,
        default=int(env("PAYSIM_STREAMS_PER_MERCHANT", "0")),
        help="[PAYSIM_STREAMS_PER_MERCHANT] event streams one merchant may hold open per "
        "worker (default: all of --streams). Past it: 503 too_many_streams with Retry-After",
    )
    server.add_options(p, env)
    p.add_argument(
        "--sse-heartbeat",
        type=float,
        default=float(env("PAYSIM_SSE_HEARTBEAT", "25")),
        help="[PAYSIM_SSE_HEARTBEAT] seconds between ': ping' lines (default 25)",
    )
    p.add_argument(
        "--webhook-allow-host",
        action="append",
        metavar="HOST",
        default=[h for h in env("PAYSIM_WEBHOOK_ALLOW_HOSTS", "").split(",") if h],
        help="[PAYSIM_WEBHOOK_ALLOW_HOSTS, comma-separated] a host name, IP or "
        "network webhooks may be sent to (repeatable; '*' for any). "
        "Default: loopback only",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        default=[h for h in env("PAYSIM_ALLOWED_HOSTS", "").split(",") if h],
        help="[PAYSIM_ALLOWED_HOSTS, comma-separated] a name the control API, the dashboard "
        "and the checkout page answer to, besides the listening address and localhost "
        "(repeatable; '*' for any)",
    )
    p.add_argument(
        "--idempotency-ttl",
        type=float,
        default=float(env("PAYSIM_IDEMPOTENCY_TTL", "86400")),
        help="[PAYSIM_IDEMPOTENCY_TTL] seconds an Idempotency-Key is kept (86400)",
    )
    p.add_argument(
        "--control-token",
        default=env("PAYSIM_CONTROL_TOKEN", ""),
        help="[PAYSIM_CONTROL_TOKEN] a token every /_sim request must carry (X-Control-Token). "
        "Optional on loopback; on any other address one is generated and printed if not given",
    )
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument(
        "--grade-clients",
        action="store_true",
        default=env("PAYSIM_GRADE_CLIENTS", "") not in ("", "0", "false"),
        help="[PAYSIM_GRADE_CLIENTS] judge every API request against the integration rules; "
        "the report at GET /_sim/clients/report (or: paysim client-report)",
    )
    p.add_argument(
        "--exam",
        action="store_true",
        default=env("PAYSIM_EXAM", "") not in ("", "0", "false"),
        help="[PAYSIM_EXAM] grade clients, and put each credential's client through every "
        "situation a rule judges on its first suitable requests (a 429, lost answers, a "
        "dropped connection, an outage, a slow answer, the event stream cut): answers change",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(env("PAYSIM_WORKERS", "1")),
        help="[PAYSIM_WORKERS] processes serving the same store (default 1); they share the "
        "data, the clock, faults, defects and queued outcomes through it, and each takes 1/N "
        "of every rate limit",
    )
    p.add_argument(
        "--chaos",
        choices=sorted(CHAOS),
        default=env("PAYSIM_CHAOS", "none"),
        help="[PAYSIM_CHAOS] inject faults at a rate on every API, so a client's retry paths run: "
        "flaky (a few 5xx, lost answers, 429s), hostile (many); change with PUT /_sim/chaos",
    )
    retention.add_options(p, env)
    args = p.parse_args(argv)
    if not args.control_token and not _loopback(args.host):
        args.control_token = secrets.token_urlsafe(24)
        print(
            f"paysim: listening on {args.host}, beyond loopback: the control API (/_sim) needs "
            f"X-Control-Token: {args.control_token}",
            file=sys.stderr,
            flush=True,
        )
    return args


def _loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_config(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration each worker builds its app from (``create_app``)."""
    a = args
    return {
        "DATABASE": a.db,
        "SEED_FILE": a.seed_file,
        "SCRIPT_FILE": a.script,
        "DEFECTS": a.defect,
        "SSE_HEARTBEAT_S": a.sse_heartbeat,
        **server.settings(a),
        "STREAMS_PER_MERCHANT": a.streams_per_merchant,
        "THREADS": a.threads,
        "WEBHOOK_ALLOW_HOSTS": a.webhook_allow_host,
        "LISTEN": [(a.host, a.port)],
        "ALLOWED_HOSTS": a.allowed_host,
        "CONTROL_TOKEN": a.control_token or None,
        "IDEMPOTENCY_TTL_S": a.idempotency_ttl,
        "GRADE_CLIENTS": a.grade_clients,
        "EXAM": a.exam,
        "CHAOS": a.chaos,
        "WORKERS": a.workers,
        **retention.settings(a),
    }


def banner(args: argparse.Namespace) -> str:
    """What a partner needs to start: where each API is, a test key of each, the store and
    whether it keeps what it acknowledged, and how to stop."""
    from urllib.parse import urlsplit

    from simulator.core.seed import load_seed

    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{args.port}"
    seed = load_seed(args.seed_file)
    terminal = seed["freefin"]["merchants"][0]["terminals"][0]
    merchant = seed["kaspi"]["merchants"][0]
    if args.db.startswith(("postgresql://", "postgres://")):
        url = urlsplit(args.db)
        where = f"{url.hostname}:{url.port or 5432}{url.path}"
        store = f"PostgreSQL {where}: every acknowledged write is committed, it survives kill -9"
    elif args.db == ":memory:":
        store = ":memory: (SQLite in memory): NOT durable, everything goes when it stops"
    else:
        store = (
            f"{os.path.abspath(args.db)} (SQLite, WAL): every acknowledged write survives kill -9"
        )
    token = "  (send X-Control-Token)" if args.control_token else ""
    lines = [
        "paysim simulator",
        f"  freefin API   {base}/api/v1/public   Authorization: Bearer {terminal['key']}",
        f"  Kaspi API     {base}/api             X-API-Key: {merchant['api_key']}",
        f"  control API   {base}/_sim{token}",
        f"  dashboard     {base}/_sim/ui/"
        + ("  (open it once with ?token=<the control token>)" if args.control_token else ""),
        f"  test keys     {args.seed_file or 'the bundled seed'} (README: Test keys)",
        f"  store         {store}",
        f"  workers {args.workers}, chaos {args.chaos}, client grading "
        + (
            "on, with the exam: GET /_sim/clients/report"
            if args.exam
            else "on: GET /_sim/clients/report"
            if args.grade_clients
            else "off"
        ),
        "  stop          Ctrl+C (or SIGTERM)",
    ]
    return "\n".join(lines)


def unknown_defects(names: list[str]) -> list[str]:
    """The names of ``names`` that are no defect of the catalog (checked before any worker
    starts, so a typo is one line of usage, not a worker's traceback)."""
    if not names:
        return []
    from simulator.app import create_app

    app = create_app({"DB_PATH": ":memory:", "TICKER": False})
    catalog = app.extensions["paysim.runtime"].defects.catalog
    return [name for name in names if name not in catalog]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    unknown = unknown_defects(args.defect)
    if unknown:
        print(
            f"paysim serve: unknown defect {', '.join(unknown)}; the defects are listed by "
            "GET /_sim/defects and on the dashboard",
            file=sys.stderr,
        )
        sys.exit(2)
    print(banner(args), file=sys.stderr, flush=True)
    os.environ.setdefault("PAYSIM_BOOT_ID", secrets.token_hex(8))  # one per start, all workers
    server.serve(
        "simulator.server:simulator",
        app_config(args),
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        streams=args.streams,
        log_level=args.log_level,
        access_log=args.access_log,
        head_timeout=args.head_timeout,
    )


if __name__ == "__main__":
    main()
