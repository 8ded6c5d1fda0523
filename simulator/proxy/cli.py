"""python -m simulator.proxy (paysim proxy): its options, and the server that runs it."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import sys

from simulator import server
from simulator.core import retention
from simulator.core.faults import CHAOS
from simulator.proxy.app import MOUNTS, create_proxy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog=env("PAYSIM_PROG", "python -m simulator.proxy"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--api", choices=sorted(MOUNTS), required=True, help="the API it stands for")
    p.add_argument(
        "--upstream",
        required=True,
        help="the server's base URL (freefin: its root; Kaspi: its .../api)",
    )
    p.add_argument("--host", default=env("PAYSIM_PROXY_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("PAYSIM_PROXY_PORT", "8090")))
    p.add_argument(
        "--db",
        default=env("PAYSIM_PROXY_DB", "paysim-proxy.db"),
        help="SQLite file the client log is kept in, or :memory:",
    )
    p.add_argument(
        "--chaos", choices=sorted(CHAOS), default="none", help="faults toward the client"
    )
    p.add_argument(
        "--exam",
        action="store_true",
        help="put each credential's client through every situation a client rule judges, on "
        "its first suitable requests (as paysim serve --exam does): answers change",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=32,
        help="request threads (default 32); event streams have threads of their own (--streams)",
    )
    p.add_argument("--control-token", default=env("PAYSIM_CONTROL_TOKEN", ""))
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        default=[h for h in env("PAYSIM_ALLOWED_HOSTS", "").split(",") if h],
        help="[PAYSIM_ALLOWED_HOSTS] a name /_sim answers to besides the listening address "
        "and localhost (repeatable; '*' for any)",
    )
    p.add_argument(
        "--record",
        metavar="FILE",
        help="write every exchange to FILE as HAR 1.2 (credentials masked; an event stream as "
        "its events), for paysim replay",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    server.add_options(p, env)
    retention.add_options(p, env)
    args = p.parse_args(argv)
    if not args.control_token and not _loopback(args.host):
        args.control_token = secrets.token_urlsafe(24)
        print(f"paysim proxy: /_sim needs X-Control-Token: {args.control_token}", file=sys.stderr)
    return args


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    print(
        f"paysim proxy: the {args.api} API at http://{args.host}:{args.port}"
        f"{MOUNTS[args.api][0]}/ -> {args.upstream}; report at /_sim/clients/report",
        file=sys.stderr,
        flush=True,
    )
    server.serve(
        "simulator.proxy:served",
        {
            "API": args.api,
            "UPSTREAM": args.upstream,
            "DATABASE": args.db,
            "CHAOS": args.chaos,
            "EXAM": args.exam,
            "CONTROL_TOKEN": args.control_token or None,
            "LISTEN": [(args.host, args.port)],
            "ALLOWED_HOSTS": args.allowed_host,
            "RECORD": args.record,
            "THREADS": args.threads,
            **server.settings(args),
            **retention.settings(args),
        },
        host=args.host,
        port=args.port,
        workers=1,
        threads=args.threads,
        streams=max(1, args.streams),
        log_level=args.log_level,
        head_timeout=args.head_timeout,
    )


def served() -> server.Wsgi:
    """The proxy's app in its worker (granian's factory)."""
    config = server.worker_config()
    # as many places as threads (none is ever refused): only the bodies' time limit
    threads = int(config["THREADS"]) + int(config["STREAMS"])
    bodies = server.BodyPlaces(threads, float(config["BODY_TIMEOUT_S"]))
    return server.edge(create_proxy(config), bodies)
