"""The foreign freefin server: the threading HTTP server, ``start`` and the CLI ``main``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Iterable, Sequence
from http.server import ThreadingHTTPServer
from typing import Any

from .bugs import BUGS, check_bugs
from .events import EventBus
from .ratelimit import RateLimiter
from .routes import Handler
from .state import Store

HEARTBEAT = 25.0


class FreefinServer(ThreadingHTTPServer):
    """A freefin Public API on 127.0.0.1 with in-memory state and optional bugs."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int = 0, bugs: Iterable[str] = (), heartbeat: float = HEARTBEAT):
        self.bugs = check_bugs(bugs)
        self.heartbeat = heartbeat
        self.bus = EventBus()
        self.store = Store(self.bugs, self.bus)
        self.limiter = RateLimiter()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        super().__init__(("127.0.0.1", port), Handler)

    @property
    def base_url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def track(self, connection: socket.socket, open_: bool) -> None:
        """Remember (or forget) an open client connection."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore errors of a connection (client gone, timeouts)."""

    def serve_in_thread(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving: end timers, SSE streams and open connections, close the socket."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            super().shutdown()
            self._thread.join()
        self.store.close()
        self.bus.close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()


def start(
    bugs: Iterable[str] = (), port: int = 0, heartbeat: float = HEARTBEAT
) -> tuple[FreefinServer, str]:
    """Start a server in a daemon thread; return it and its base URL (stop: ``shutdown()``)."""
    server = FreefinServer(port, bugs, heartbeat)
    server.serve_in_thread()
    return server, server.base_url


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: serve until SIGTERM/SIGINT after printing ``READY <base url>``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.foreign.freefin",
        description="Independent freefin Public API server for harness tests.",
        epilog="bugs: " + ", ".join(sorted(BUGS)),
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--bug", action="append", default=[], metavar="NAME", help="switch a bug")
    parser.add_argument("--heartbeat", type=float, default=HEARTBEAT, help="SSE ping seconds")
    args = parser.parse_args(argv)
    try:
        check_bugs(args.bug)
    except ValueError as exc:
        parser.error(str(exc))
    server, url = start(args.bug, args.port, args.heartbeat)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"READY {url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    sys.stdout.flush()
    return 0
