"""The HTTP server the simulator and the proxy run on: granian (Rust, hyper) serving the Flask app
over WSGI, N worker processes of ``--threads`` blocking threads each.

Measured against gunicorn gthread in one run (benchmarks/bench_simulator.py serves it on both), the
simulator's reads go twice as fast and its creates 1.4 to 1.6 times; a request head is read by its
event loop, never by a Python thread, so clients that send half a head and wait delay nobody (and
are dropped after the head timeout); it keeps nothing on disk (no control socket, no pid file), so
two instances on one machine share nothing.

granian 2.8.7 has no timeout on a request's body (its source: ``wsgi.input.read`` waits on the
runtime with no deadline, and its HTTP/1 settings time out only the head): a WSGI read blocks
its serving thread until the bytes come or the client leaves. Reading bodies in threads of our
own to time them out stalls granian's runtime for every request (measured), and serving the
app over ASGI, where the body is read by the event loop under a timeout, cost 2 to 3 times the
CPU per request of WSGI (the bare endpoint, measured in one run), so neither is done. Instead
the simulator bounds how many threads wait on bodies (``BodyPlaces``: a quarter of them); a
read that finds none free within ``BODY_WAIT_S`` is answered 503 ``temporarily_unavailable``
with Retry-After, in the API's envelope, and the connection closes (at 32 connections of
creates on 8 threads, none was refused). And a read that has waited ``--body-timeout`` has the
connection of its stalled client shut by a watchdog (``simulator.stalls``), which ends it.

Each worker builds its app from the configuration the command put in ``PAYSIM_SERVER_CONFIG``
(no state at import time, nothing pickled), and exits when its parent is gone: a server killed
with -9 leaves no worker holding its port or its store.

The app answers the limits of the request it gets to see in the API's envelope (a request
target over ``MAX_TARGET`` bytes: 414; header fields of over ``MAX_HEAD`` bytes: 431; a body
over the API's limit: 413), saying ``Connection: close``. What granian refuses before any app
runs, it answers itself with a bare status (``Content-Length: 0``) and closes the connection:
a request line longer than ``MAX_BUFFER`` bytes, 414; a head well past it (it reads in blocks:
91 KiB still reached the app, 180 KiB did not) or of over 100 header fields, 431; a request it
cannot parse (a bad request line, header name or Content-Length, a control character in a
header value, a request target that is not UTF-8), 400.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from simulator import stalls
from simulator.core.errors import ApiError, Busy
from simulator.core.events import STREAMS

CONFIG_ENV = "PAYSIM_SERVER_CONFIG"
SERVER_PID_ENV = "PAYSIM_SERVER_PID"  # the process a worker must outlive by no time at all
MAX_TARGET = 8 * 1024  # bytes of path and query: more is 414
MAX_HEAD = 32 * 1024  # bytes of header fields: more is 431
MAX_BUFFER = 64 * 1024  # bytes of a request head granian reads at most: more, it answers 431
HEAD_TIMEOUT_S = 10.0  # a request head not whole by then: the connection is closed
PARENT_POLL_S = 0.2
BODY_WAIT_S = 1.0  # how long a body read waits for a place before it is refused
BODY_TIMEOUT_S = 15.0  # a body that sends nothing for this long: its connection is shut

# Names a request's environ is read by (its headers, its body's length and type): one the
# server's process environment holds is not the request's, unless the request says it again.
_CGI = ("HTTP_", "CONTENT_", "REMOTE_", "SERVER_", "REQUEST_", "PATH_INFO", "QUERY_STRING")
_CODES = {413: "payload_too_large", 414: "uri_too_long", 431: "headers_too_large"}

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def serve(
    target: str,
    config: dict[str, Any],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    log_level: str,
    streams: int = 0,
    access_log: bool = False,
    head_timeout: float = HEAD_TIMEOUT_S,
) -> None:
    """Serve the app ``target`` (``module:factory``, called with no argument in each worker)
    built from ``config`` until SIGINT or SIGTERM, on ``threads`` threads for requests and
    ``streams`` more for the streamed answers a worker may hold open: granian's pool spawns
    its threads when work waits for one and lets them go after 30 s idle, so the streams'
    cost nothing until they are taken."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    os.environ[CONFIG_ENV] = json.dumps(config)
    os.environ[SERVER_PID_ENV] = str(os.getpid())
    Granian(
        target,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,
        websockets=False,
        workers=workers,
        blocking_threads=threads + streams,
        backlog=4096,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(head_timeout * 1000), max_buffer_size=MAX_BUFFER
        ),
        log_level=LogLevels(log_level),
        log_access=access_log,
        workers_kill_timeout=3,
        respawn_failed_workers=True,  # a worker killed is replaced, as the others serve on
        respawn_interval=0.5,
    ).serve()


# The options of each command that serves (paysim serve, paysim proxy): flag, variable, type,
# default, and what it limits (its default said after it).
OPTIONS: tuple[tuple[str, str, type, float, str], ...] = (
    (
        "--streams",
        "PAYSIM_STREAMS",
        int,
        STREAMS,
        "event streams a worker may hold open, each on a thread of its own beyond --threads "
        "(default {}); past it: 503 too_many_streams with Retry-After",
    ),
    (
        "--head-timeout",
        "PAYSIM_HEAD_TIMEOUT",
        float,
        HEAD_TIMEOUT_S,
        "seconds a request head may take to arrive (default {}); then the connection is closed",
    ),
    (
        "--body-timeout",
        "PAYSIM_BODY_TIMEOUT",
        float,
        BODY_TIMEOUT_S,
        "seconds a request body may send nothing (default {}; 0: no limit); then its "
        "connection is shut (Linux)",
    ),
)


def add_options(parser: argparse.ArgumentParser, env: Callable[[str], str | None]) -> None:
    """The server's options (``OPTIONS``, and their PAYSIM_ variables): ``--streams`` and
    ``--head-timeout`` go to ``serve``, and with ``--body-timeout`` to the app (``settings``)."""
    for flag, variable, kind, default, limits in OPTIONS:
        parser.add_argument(
            flag,
            type=kind,
            default=kind(env(variable) or default),
            help=f"[{variable}] " + limits.format(f"{default:g}"),
        )


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """What of :func:`add_options` each worker is told."""
    return {"STREAMS": args.streams, "BODY_TIMEOUT_S": args.body_timeout}


def worker_config() -> dict[str, Any]:
    """The configuration ``serve`` was given, in a worker process; and from here on the worker
    follows its parent: it exits as soon as the parent is gone."""
    _follow_parent()
    config: dict[str, Any] = json.loads(os.environ.pop(CONFIG_ENV))
    config["LISTEN"] = [tuple(pair) for pair in config.get("LISTEN", [])]
    return config


def _follow_parent() -> None:
    # The server's pid, not whatever parent this worker has by now: a server killed while its
    # worker was still starting left it a child of init, which it would have taken for its own.
    parent = int(os.environ.get(SERVER_PID_ENV) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)  # what is acknowledged is committed; nothing else is owed

    threading.Thread(target=watch, name="paysim-parent-watch", daemon=True).start()


class BodyPlaces:
    """How many serving threads may wait on request bodies at once: a read that finds no place
    free within ``BODY_WAIT_S`` is refused (``Busy``), so clients that stall mid-body hold at
    most these threads, and the rest serve everything else. With a ``timeout`` (Linux), a
    watchdog shuts the connection of a body that has sent nothing for that long
    (``simulator.stalls``), and its read ends, its place given back."""

    def __init__(self, places: int, timeout: float = 0.0) -> None:
        self.places = places
        self.timeout = timeout
        self._free = threading.BoundedSemaphore(places)
        self._lock = threading.Lock()
        self._reading: dict[int, float] = {}  # a read in progress -> when it began
        self._next = 0
        self.shut = 0  # connections shut for a stalled body, in all
        if timeout > 0 and stalls.supported():
            threading.Thread(target=self._watch, name="paysim-body-watch", daemon=True).start()

    def take(self) -> int | None:
        """A place, waited for a moment (a body that has arrived holds its place only while
        its thread reads it, and gets the interpreter back, so under load one comes free): the
        read's token for ``give``, or None."""
        if not self._free.acquire(timeout=BODY_WAIT_S):
            return None
        with self._lock:
            self._next += 1
            self._reading[self._next] = time.monotonic()
            return self._next

    def give(self, token: int) -> None:
        with self._lock:
            self._reading.pop(token, None)
        self._free.release()

    def stalled(self) -> int:
        """How many reads have waited longer than the timeout."""
        limit = time.monotonic() - self.timeout
        with self._lock:
            return sum(1 for began in self._reading.values() if began <= limit)

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.timeout / 4))
            waiting = self.stalled()
            if waiting:
                self.shut += stalls.shut(int(self.timeout * 1000), waiting)


class _PlacedInput:
    """``wsgi.input`` whose every read holds one of the ``BodyPlaces`` while it waits."""

    def __init__(self, inner: Any, places: BodyPlaces) -> None:
        self._inner = inner
        self._places = places
        self.refused = False

    def _held(self, read: Callable[[], bytes]) -> bytes:
        token = self._places.take()
        if token is None:
            self.refused = True
            raise Busy(
                "too many request bodies are arriving at once; nothing was done, retry",
                headers={"Retry-After": "1"},
            )
        try:
            return read()
        finally:
            self._places.give(token)

    def read(self, size: int | None = None) -> bytes:
        return self._held(lambda: self._inner.read(size))

    def readline(self, size: int | None = None) -> bytes:
        return self._held(lambda: self._inner.readline(size))

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


def edge(app: Any, bodies: BodyPlaces | None = None) -> Wsgi:
    """``app`` (a Flask app with ``paysim.envelopes``) behind the request limits the server
    leaves to it: 414 and 431 in the envelope of the request's path, and 413s that close; with
    ``bodies``, a body read past its places refused, and its connection closed. An
    environment variable of the server's named as a header (``HTTP_X_API_KEY``) is no header of
    the request's (granian cannot tell them apart: a request that sends that very value is read
    as one without it)."""

    inherited = {k: v for k, v in os.environ.items() if k.startswith(_CGI)}

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        for key, value in inherited.items():  # granian starts each environ from os.environ
            if environ.get(key) == value:
                del environ[key]
        refused = _over_limits(environ)
        if refused is not None:
            status, message = refused
            return _answer(app, environ.get("PATH_INFO") or "/", status, message, start_response)
        placed = None
        if bodies is not None and "wsgi.input" in environ:
            placed = environ["wsgi.input"] = _PlacedInput(environ["wsgi.input"], bodies)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # its body is left unread: the connection cannot go on
            if status.startswith("413") or (placed is not None and placed.refused):
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
            return start_response(status, headers, exc_info)

        result: Iterable[bytes] = app(environ, start)
        return result

    return wsgi


def _over_limits(environ: dict[str, Any]) -> tuple[int, str] | None:
    target = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
    if target > MAX_TARGET:
        return 414, f"the request target is over {MAX_TARGET} bytes"
    size = sum(len(k) - 1 + len(str(v)) for k, v in environ.items() if k.startswith("HTTP_"))
    if size > MAX_HEAD:
        return 431, f"the request's header fields are over {MAX_HEAD} bytes"
    return None


def _answer(
    app: Any, path: str, status: int, message: str, start_response: StartResponse
) -> list[bytes]:
    error = ApiError(message, code=_CODES.get(status, "bad_request"), status=status)
    with app.test_request_context(path):
        resp = app.extensions["paysim.envelopes"].render(path, error)
    body: bytes = resp.get_data()
    start_response(
        f"{status} {resp.status.split(' ', 1)[-1]}",
        [
            ("Content-Type", resp.content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return [body]


def simulator() -> Wsgi:
    """The simulator's app in a worker (granian's factory)."""
    from simulator.app import create_app

    config = worker_config()
    places = max(1, int(config.get("THREADS", 32)) // 4)
    return edge(create_app(config), BodyPlaces(places, float(config.get("BODY_TIMEOUT_S", 0))))
