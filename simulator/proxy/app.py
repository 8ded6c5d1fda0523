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

import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any, cast

import requests
from flask import Flask, Response, jsonify, request

from simulator import har
from simulator.control import schemas
from simulator.core import retention
from simulator.core.clock import iso
from simulator.core.engines import open_store
from simulator.core.errors import ApiError, BadRequest, NotFound, TooManyStreams, Unauthorized
from simulator.core.events import STREAMS, Held, StreamPlaces
from simulator.core.faults import Faults
from simulator.freefin.rules import FreefinRules
from simulator.grading import client_log, client_report, client_rules, exam, operations
from simulator.kaspi.rules import KaspiRules
from simulator.proxy import streams
from simulator.proxy.exchange import Exchange
from simulator.proxy.framing import (
    JUDGED_BYTES,
    NOT_DOWNSTREAM,
    NOT_UPSTREAM,
    answer_framing,
    forwarded,
    request_framing,
)
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
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 60.0


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
    prune = retention.Pruner(store, retention.Retention.of(config), (client_log.KEPT,))
    app.extensions["paysim.pruner"] = prune
    total = max(1, int(config.get("STREAMS", STREAMS)))
    places = StreamPlaces(total, total)
    session = requests.Session()
    kept = int(config.get("THREADS", 32)) + total  # a kept connection per serving thread
    for scheme in ("http://", "https://"):
        session.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=kept))

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

    @app.get("/_sim/streams")
    def _streams() -> Response:
        """The event streams the proxy holds open, and its places for them."""
        return jsonify({"open": places.held_all(), "places": places.total})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

    @app.route("/", defaults={"path": ""}, methods=methods)
    @app.route("/<path:path>", methods=methods)
    def _forward(path: str) -> Response:
        if not (request.path == mount or request.path.startswith(mount + "/")):
            raise NotFound(f"this proxy serves the {api} API under {mount}/", code="not_found")
        framing = request_framing()
        if framing:
            raise BadRequest(f"contradictory framing: {framing}")
        exchange = Exchange(api, store, recorder)
        if exchange.operation_name != operations.STREAMS.get(api):
            return _exchange(exchange, stream=False)
        # an event stream holds a thread of its own while it is open: it takes a place first
        if not places.take(streams.OWNER):
            raise TooManyStreams(
                f"no place for another event stream: at most {places.total}, each still "
                "read by its client",
                headers={"Retry-After": str(streams.RETRY_S)},
            )
        try:
            resp = _exchange(exchange, stream=True)
        except BaseException:
            places.give(streams.OWNER)
            raise
        chunks = cast(Iterable[bytes], resp.response)
        resp.response = Held(iter(chunks), lambda: places.give(streams.OWNER))
        return resp

    def _exchange(exchange: Exchange, stream: bool) -> Response:
        """The request sent on and its answer relayed, with the faults and the exam's
        situation that act on it."""
        fault = faults.match(request.method, request.path)
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
        headers = forwarded(request.headers.items(), NOT_UPSTREAM)
        data = exchange.body if exchange.body_whole else exchange.upload()
        try:
            up = session.request(
                request.method,
                url,
                headers=headers,
                data=data,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),  # a stream's body: streams.py
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
        framing = answer_framing(up)
        if framing:  # what its body is cannot be known: nothing of it is passed on
            up.close()
            error = ApiError(f"the upstream's answer has contradictory framing: {framing}")
            error.code, error.status = "upstream_bad_framing", 502
            return exchange.finish(_render(api, error), judged=True)
        out_headers = list(forwarded(up.headers.items(), NOT_DOWNSTREAM).items())
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
