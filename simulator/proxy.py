"""python -m simulator.proxy (paysim proxy): a validating proxy between a partner's client
and any server of one API (the simulator, or a sandbox).

Every request is forwarded as it came and its answer sent back as it came (an event stream and a
large body pass through chunk by chunk, never held whole); on the way, both are judged against the
seed: the request by the same client rules as the simulator's client report, the answer by the
server rules, each finding said of the side it is about. Chaos profiles and faults act toward the
client, as they do on the simulator. The report is at GET /_sim/clients/report, so
paysim client-report --target-url reads it from the proxy as from the simulator.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterator
from typing import Any

import requests
from flask import Flask, Response, jsonify, request

from simulator import har, server
from simulator.control import schemas
from simulator.core import retention
from simulator.core.clock import iso
from simulator.core.engines import open_store
from simulator.core.errors import ApiError, BadRequest, NotFound, Unauthorized
from simulator.core.faults import CHAOS, Fault, Faults
from simulator.core.store import Store
from simulator.freefin.rules import FreefinRules
from simulator.grading import client_log, client_report, client_rules, exam, operations
from simulator.kaspi.rules import KaspiRules
from simulator.web import (
    AllowedHosts,
    Envelopes,
    cross_site,
    error_response,
    fault_answer,
    foreign_host,
    json_body,
)

log = logging.getLogger("paysim.proxy")

# Where each API is served (as the simulator serves it), and what of that path the upstream's
# base URL already holds: Kaspi's base URL ends in /api, freefin's is the server's root.
MOUNTS = {"freefin": ("/api/v1/public", ""), "kaspi": ("/api", "/api")}
CREDENTIAL = {"freefin": "Authorization", "kaspi": "X-API-Key"}
# Headers of one connection, not of the message (RFC 9110 section 7.6.1): never forwarded, either
# way, nor any header a Connection header names. Framing is the proxy's own on each side.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# What the client holds for this proxy or its browser, never the upstream's business; and what the
# upstream would set in the client's browser under the proxy's name.
NOT_UPSTREAM = frozenset({"x-control-token", "cookie"})
NOT_DOWNSTREAM = frozenset({"set-cookie", "set-cookie2"})
JUDGED_BYTES = 1024 * 1024  # a body longer than this passes through unjudged
CHUNK = 64 * 1024
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 60.0
THREADS_MAX = 128


def _render(api: str, error: ApiError) -> Response:
    if api == "freefin":
        return error_response(error, FreefinRules().error_body(error))
    return error_response(error, KaspiRules().error_body(error, iso(time.time())))


def create_proxy(config: dict[str, Any]) -> Flask:
    api, upstream = config["API"], str(config["UPSTREAM"]).rstrip("/")
    if api not in MOUNTS:
        raise ValueError(f"api must be one of {', '.join(MOUNTS)}")
    mount, upstream_holds = MOUNTS[api]
    app = Flask(__name__)
    store = open_store(config.get("DATABASE", ":memory:"))
    faults = Faults()
    faults.set_chaos(config.get("CHAOS", "none"), operations.create_paths())
    token = config.get("CONTROL_TOKEN")
    examining = bool(config.get("EXAM"))
    hosts = AllowedHosts(config.get("LISTEN", []), config.get("ALLOWED_HOSTS", []))
    recorder = har.Recorder(config["RECORD"]) if config.get("RECORD") else None
    prune = retention.Pruner(store, retention.Retention.of(config))
    app.extensions["paysim.pruner"] = prune
    session = requests.Session()
    for scheme in ("http://", "https://"):  # a kept connection per serving thread
        session.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=THREADS_MAX))

    def render(error: ApiError) -> Response:
        return _render(api, error)

    envelopes = Envelopes(render)
    app.extensions["paysim.envelopes"] = envelopes  # the worker's own error answers use it

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return _render(api, error)

    @app.teardown_request
    def _prune(_: BaseException | None) -> None:
        """The client log kept by the same rules as the simulator's (``core/retention.py``),
        on the wall clock: the proxy's only one."""
        now = time.time()
        try:
            prune(now, now)
        except Exception:  # the answer is already made; tried again in every_s
            log.exception("pruning the client log failed")

    @app.before_request
    def _control_guard() -> None:
        if request.path.startswith("/_sim/") and request.path != "/_sim/health":
            refused = foreign_host(hosts)
            if refused is not None:
                raise refused
            if cross_site(hosts):
                raise ApiError(
                    "the control API takes no change from another site's page",
                    code="cross_site_refused",
                    status=403,
                )
            given = request.headers.get("X-Control-Token", "")
            if token and not secrets.compare_digest(given.encode(), str(token).encode()):
                raise Unauthorized("the control API needs X-Control-Token", code="unauthorized")

    @app.get("/_sim/health")
    def _health() -> Response:
        return jsonify({"status": "ok", "api": api, "upstream": upstream})

    @app.route("/_sim/clients/report", methods=["GET", "DELETE"])
    def _report() -> Response:
        if request.method == "DELETE":
            client_log.clear(store)
            return jsonify({"status": "cleared"})
        level = request.args.get("level", "spec")
        if level not in client_rules.LEVELS:
            raise BadRequest(f"level must be one of {', '.join(client_rules.LEVELS)}")
        return jsonify(client_report.report(store, exam_on=examining, level=level))

    @app.route("/_sim/chaos", methods=["GET", "PUT"])
    def _chaos() -> Response:
        if request.method == "PUT":
            body = schemas.check(schemas.CHAOS, json_body())
            faults.set_chaos(body["profile"], operations.create_paths())
        return jsonify(faults.chaos())

    @app.route("/_sim/faults", methods=["GET", "POST", "DELETE"])
    def _faults() -> Response:
        if request.method == "DELETE":
            faults.clear()
        elif request.method == "POST":
            try:
                faults.add(**schemas.check(schemas.FAULT, json_body()))
            except (TypeError, ValueError) as exc:
                raise BadRequest(f"bad fault: {exc}") from exc
        return jsonify({"faults": faults.list()})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

    @app.route("/", defaults={"path": ""}, methods=methods)
    @app.route("/<path:path>", methods=methods)
    def _forward(path: str) -> Response:
        if not (request.path == mount or request.path.startswith(mount + "/")):
            raise NotFound(f"this proxy serves the {api} API under {mount}/", code="not_found")
        framing = _request_framing()
        if framing:
            raise BadRequest(f"contradictory framing: {framing}")
        fault = faults.match(request.method, request.path)
        exchange = _Exchange(api, store, recorder)
        if fault is None and examining:
            fault = exchange.examined()
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.latency_ms / 1000)
            fault = None
        if fault is not None and fault.when == "before":
            return exchange.finish(
                fault_answer(fault, lambda error: _render(api, error)), judged=False
            )
        url = upstream + request.path.removeprefix(upstream_holds)
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        headers = _forwarded(request.headers.items(), NOT_UPSTREAM)
        data = exchange.body if exchange.body_whole else exchange.upload()
        stream = exchange.operation_name == operations.STREAMS.get(api)
        try:
            up = session.request(
                request.method,
                url,
                headers=headers,
                data=data,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT_S, None if stream else READ_TIMEOUT_S),
            )
        except requests.Timeout:
            error = ApiError("the upstream did not answer in time", code="upstream_timeout")
            error.status = 504
            return exchange.finish(_render(api, error), judged=True)
        except requests.exceptions.InvalidHeader as exc:  # urllib3 refuses unequal lengths
            error = ApiError(f"the upstream's answer has contradictory framing: {exc}")
            error.code, error.status = "upstream_bad_framing", 502
            return exchange.finish(_render(api, error), judged=True)
        except requests.RequestException as exc:
            error = ApiError(f"the upstream is unreachable: {type(exc).__name__}")
            error.code, error.status = "upstream_unreachable", 502
            return exchange.finish(_render(api, error), judged=True)
        exchange.answered = time.perf_counter()
        if fault is not None and up.status_code < 400:  # the work is done; the answer is lost
            up.close()
            return exchange.finish(
                fault_answer(fault, lambda error: _render(api, error)), judged=False
            )
        framing = _answer_framing(up)
        if framing:  # what its body is cannot be known: nothing of it is passed on
            up.close()
            error = ApiError(f"the upstream's answer has contradictory framing: {framing}")
            error.code, error.status = "upstream_bad_framing", 502
            return exchange.finish(_render(api, error), judged=True)
        out_headers = list(_forwarded(up.headers.items(), NOT_DOWNSTREAM).items())
        length = up.headers.get("content-length", "")
        if length:
            out_headers.append(("Content-Length", length))
        if not stream and length and int(length) <= JUDGED_BYTES:
            # a body of known, judgeable size is read whole and recorded before it is answered,
            # so that the report holds every exchange its client has seen the end of
            whole = up.raw.read(decode_content=False)
            up.close()
            exchange.record_whole(up, whole)
            return Response(whole, status=up.status_code, headers=out_headers)
        relayed = exchange.relay(up, stream)
        if exchange.cut:
            relayed = exam.cut_after_first_event(relayed)
        return Response(
            relayed,
            status=up.status_code,
            headers=out_headers,
            direct_passthrough=True,
        )

    return app


class _Exchange:
    """One request and its answer, recorded once the answer is known (or, for an event
    stream, as soon as it opens)."""

    def __init__(self, api: str, store: Store, recorder: har.Recorder | None = None) -> None:
        self.api, self.store, self.recorder = api, store, recorder
        self.seq = recorder.next_seq() if recorder else 0
        self.started, self.began = time.time(), time.perf_counter()
        self.answered: float | None = None  # when the upstream's answer head came
        self.body, self.body_whole = _first_of_body()
        self.operation = operations.match(api, request.method, request.path)
        self.operation_name = self.operation.name if self.operation else ""
        self.credential = request.headers.get(CREDENTIAL[api])
        self.path, self.method = request.path, request.method
        self.query = request.args.to_dict()
        self.url, self.pairs = request.url, list(request.args.items(multi=True))
        self.headers = dict(request.headers)
        self.situation: str | None = None
        self.cut = False

    def examined(self) -> Fault | None:
        """The exam's situation this request meets, as a fault (the event stream's cut:
        ``self.cut``)."""
        if not self.credential:
            return None
        situation = exam.next_situation(
            self.store,
            self.api,
            client_log.masked(self.credential),
            exam.kind_of(self.api, self.operation_name) if self.operation else None,
            # What was read of the body to judge: reading the rest here would take it from
            # the upstream, to which it is sent on as it arrives.
            exam.fingerprint(self.method, request.full_path, self.body),
        )
        if situation is None:
            return None
        self.situation = situation.name
        if not situation.fault:
            self.cut = True
            return None
        return Fault(path="", **situation.fault)

    def upload(self) -> Iterator[bytes] | _Sized:
        """The request body, sent on as it arrives: with its length when the client gave one,
        else chunked; what was read of it to judge goes first."""
        if request.content_length is not None:
            return _Sized(self.body, request.stream, request.content_length)
        return _rest(self.body, request.stream)

    def finish(self, resp: Response, judged: bool) -> Response:
        self._record(resp.status_code, resp.headers, resp.get_data() if judged else None)
        # a dropped answer's body is never sent; any other the proxy made is recorded whole
        body = None if resp.direct_passthrough else resp.get_data()
        self._har(resp.status_code, resp.headers.items(), body, by_proxy=True)
        return resp

    def record_whole(self, up: requests.Response, body: bytes) -> None:
        encoded = up.headers.get("Content-Encoding", "identity") != "identity"
        self._record(up.status_code, up.headers, None if encoded else body, judged=True)
        self._har(up.status_code, up.headers.items(), None if encoded else body)

    def relay(self, up: requests.Response, stream: bool) -> Iterator[bytes]:
        if stream:
            self._record(up.status_code, up.headers, None)
        kept, whole = bytearray(), True
        try:
            for chunk in up.raw.stream(CHUNK, decode_content=False):
                if whole:
                    if len(kept) + len(chunk) <= JUDGED_BYTES:
                        kept += chunk
                    else:
                        whole = False
                yield chunk
        finally:
            up.close()
            encoded = up.headers.get("Content-Encoding", "identity") != "identity"
            answer = bytes(kept) if whole and not encoded else None
            if not stream:
                self._record(up.status_code, up.headers, answer, judged=True)
            self._har(up.status_code, up.headers.items(), answer, stream=stream)

    def _har(
        self,
        status: int,
        headers: Any,
        answer: bytes | None,
        stream: bool = False,
        by_proxy: bool = False,
    ) -> None:
        """The exchange as a HAR entry, when the proxy records."""
        if self.recorder is None:
            return
        ended = time.perf_counter()
        answered = self.answered or ended
        self.recorder.write(
            har.entry(
                seq=self.seq,
                started=self.started,
                method=self.method,
                url=self.url,
                query=self.pairs,
                request_headers=self.headers.items(),
                request_body=self.body if self.body_whole else None,
                status=status,
                response_headers=headers,
                response_body=answer,
                wait_s=answered - self.began,
                receive_s=ended - answered,
                stream=stream,
                by_proxy=by_proxy,
            )
        )

    def _record(
        self, status: int, headers: Any, answer: bytes | None, judged: bool = False
    ) -> None:
        if not self.credential:
            return
        response_problems = None
        if judged or answer is not None:
            response_problems = (
                self.operation.response_problems(status, headers.get("Content-Type", ""), answer)
                if self.operation and answer is not None
                else []
            )
        retry_after = headers.get("Retry-After")
        error = client_log.error_of(answer) if answer is not None and status >= 400 else None
        with self.store.tx() as tx:
            client_log.record(
                tx,
                api=self.api,
                client=client_log.masked(self.credential),
                method=self.method,
                path=self.path,
                query=self.query,
                headers=self.headers,
                body=self.body if self.body_whole else b"",
                body_judged=self.body_whole,
                status=status,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                error=error,
                at=time.time(),
                response_problems=response_problems,
                situation=self.situation,
            )


class _Sized:
    """A request body of known length read as it arrives (so it is not sent chunked): what was
    already read, then the rest of the stream, ``CHUNK`` at a time."""

    def __init__(self, first: bytes, stream: Any, length: int) -> None:
        self.first, self.stream, self.length = first, stream, length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        if self.first:
            data, self.first = self.first, b""
            return data
        chunk: bytes = self.stream.read(CHUNK if size < 0 else min(size, CHUNK))
        return chunk


def _rest(first: bytes, stream: Any) -> Iterator[bytes]:
    yield first
    while chunk := stream.read(CHUNK):
        yield chunk


def _first_of_body() -> tuple[bytes, bool]:
    """Up to ``JUDGED_BYTES`` of the request body, and whether that is all of it. A longer body
    is left in the stream, to be sent on as it arrives, never held whole."""
    length = request.content_length
    if length is not None and length <= JUDGED_BYTES:
        return request.get_data(cache=True), True
    first = bytearray()
    while len(first) <= JUDGED_BYTES:
        chunk = request.stream.read(min(CHUNK, JUDGED_BYTES + 1 - len(first)))
        if not chunk:
            return bytes(first), True
        first += chunk
    return bytes(first), False


def _forwarded(items: Any, private: frozenset[str]) -> dict[str, str]:
    """The end-to-end headers of ``items``: neither hop-by-hop, nor named in its Connection
    header, nor a Proxy-* one, nor ``private``."""
    pairs = list(items)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return {
        name: value
        for name, value in pairs
        if (low := name.lower()) not in HOP_BY_HOP
        and low not in named
        and low not in private
        and not low.startswith("proxy-")
    }


def _request_framing() -> str | None:
    """What makes the request's length ambiguous (RFC 9112 section 6.3), or None."""
    encoding = request.headers.get("Transfer-Encoding")
    lengths = request.headers.getlist("Content-Length")
    if encoding is not None and lengths:
        return "both Transfer-Encoding and Content-Length"
    return _lengths_problem(lengths)


def _answer_framing(up: requests.Response) -> str | None:
    """What makes the upstream answer's length ambiguous, or None. requests joins repeated
    headers with commas."""
    length = up.headers.get("Content-Length")
    if length is None:
        return None
    if "Transfer-Encoding" in up.headers:
        return "both Transfer-Encoding and Content-Length"
    return _lengths_problem([length])


def _lengths_problem(lengths: list[str]) -> str | None:
    values = {v.strip() for value in lengths for v in value.split(",")}
    if not values:
        return None
    if len(values) > 1:
        return "several Content-Length values"
    if not next(iter(values)).isdigit():
        return "a Content-Length that is not a number"
    return None


# -- the command ----------------------------------------------------------------------------


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
    p.add_argument("--threads", type=int, default=32, help="each open event stream holds one")
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
            **retention.settings(args),
        },
        host=args.host,
        port=args.port,
        workers=1,
        threads=args.threads,
        log_level=args.log_level,
    )


def served() -> server.Wsgi:
    """The proxy's app in its worker (granian's factory)."""
    return server.edge(create_proxy(server.worker_config()))


if __name__ == "__main__":
    main()
