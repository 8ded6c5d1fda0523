"""create_app(config): the simulator's Flask application, with no state at import time."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from simulator.control import routes as control
from simulator.core import webhook_defects
from simulator.core.engines import open_store
from simulator.core.errors import (
    ApiError,
    Busy,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from simulator.core.events import STREAMS
from simulator.core.faults import Fault
from simulator.core.retention import MAX_OBJECTS, MAX_ROWS, WEEK_S, Retention
from simulator.core.runtime import Runtime
from simulator.core.seed import load_seed
from simulator.freefin import routes as freefin
from simulator.grading import client_log, exam, operations
from simulator.kaspi import routes as kaspi
from simulator.ui import views as ui
from simulator.web import MAX_BODY_BYTES, AllowedHosts, Envelopes, fault_answer

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "DATABASE": ":memory:",
    "SEED_FILE": None,
    "SCRIPT_FILE": None,
    "DEFECTS": [],
    "TICKER": True,
    "SSE_HEARTBEAT_S": 25.0,
    "STREAMS": STREAMS,  # event streams one worker may hold open, each on a thread of its own
    "STREAMS_PER_MERCHANT": 0,  # of them, one merchant's (0: all)
    "THREADS": 32,  # request threads per worker, the streams' apart
    "IDEMPOTENCY_TTL_S": 24 * 3600,
    "WEBHOOK_ALLOW_HOSTS": [],  # empty: loopback only
    "LISTEN": [],  # (host, port) the server listens on: never a webhook destination
    "ALLOWED_HOSTS": [],  # names /_sim and /pay answer to, beyond LISTEN and localhost
    "CONTROL_TOKEN": None,  # when set, /_sim answers only requests that carry it
    "GRADE_CLIENTS": False,  # record every API request and judge it (GET /_sim/clients/report)
    "EXAM": False,  # and put each client through every situation a rule judges (grading/exam.py)
    "WORKERS": 1,  # processes serving the same store (each gets 1/N of a rate limit)
    "CHAOS": "none",  # faults at a rate on every API: none, flaky, hostile (PUT /_sim/chaos)
    # what the store keeps of events, deliveries, idempotency records and the client log
    # (core/retention.py): a week of simulated time, and the newest rows of each table
    "RETENTION_AGE_S": WEEK_S,
    "RETENTION_ROWS": MAX_ROWS,
    "RETENTION_OBJECTS": MAX_OBJECTS,
}

# Werkzeug's own HTTP errors, named by the error classes of the same status.
HTTP_ERRORS: dict[int, type[ApiError]] = {
    cls.status: cls for cls in (NotFound, MethodNotAllowed, PayloadTooLarge)
}


class SimulatorFlask(Flask):
    """Flask, asking once per function whether it is a coroutine function: Flask asks again
    for every hook and view of every request (``inspect``, about a microsecond each, seven
    times a request), and nothing here is async."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        sync = self._sync.get(func)
        if sync is None:
            sync = self._sync[func] = super().ensure_sync(func)
        return sync


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = SimulatorFlask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["GRADE_CLIENTS"] = app.config["GRADE_CLIENTS"] or app.config["EXAM"]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    streams = max(1, int(app.config["STREAMS"]))
    rt = Runtime(
        store=open_store(app.config["DATABASE"]),
        seed=load_seed(app.config["SEED_FILE"]),
        idempotency_ttl_s=float(app.config["IDEMPOTENCY_TTL_S"]),
        sse_heartbeat_s=float(app.config["SSE_HEARTBEAT_S"]),
        streams_per_merchant=int(app.config["STREAMS_PER_MERCHANT"]) or streams,
        streams_total=streams,
        webhook_allow_hosts=list(app.config["WEBHOOK_ALLOW_HOSTS"]),
        listening=[(str(h), int(p)) for h, p in app.config["LISTEN"]],
        shared=int(app.config["WORKERS"]) > 1 or app.config["DATABASE"].startswith("postgres"),
        retention=Retention.of(app.config),
        kept=(client_log.KEPT,),
    )
    rt.limiter.share = max(1, int(app.config["WORKERS"]))  # each worker its part of the rate
    webhook_defects.register(rt.defects)
    rt.dispatcher.defects = rt.defects
    app.extensions["paysim.runtime"] = rt
    app.extensions["paysim.hosts"] = AllowedHosts(rt.listening, app.config["ALLOWED_HOSTS"])

    envelopes = Envelopes(control.render_error)
    app.extensions["paysim.envelopes"] = envelopes  # also the server's own error answers
    freefin.init_app(app, rt)
    envelopes.register(freefin.PREFIX, freefin.render_error)
    kaspi.init_app(app, rt)
    envelopes.register(kaspi.PREFIX, kaspi.render_error)
    app.register_blueprint(control.bp)
    app.register_blueprint(ui.bp)
    _install_index(app)
    _install_error_handlers(app, envelopes)
    app.before_request(control.guard)  # before anything else: /_sim is guarded first
    if app.config["GRADE_CLIENTS"]:  # first: its after_request runs last, on the final answer
        _install_client_grading(app, rt)
    _install_faults(app, rt, envelopes)
    rt.control.creates = operations.create_paths()
    _start_settings(app, rt)
    if app.config["TICKER"]:
        rt.start()
    return app


def _install_index(app: Flask) -> None:
    """``GET /``: where each API, the dashboard and the control API are."""
    index = {
        "service": "paysim simulator",
        "apis": {
            "freefin": {"title": "freefin Public API", "base_path": freefin.PREFIX},
            "kaspi": {"title": "Arzan Pay Kaspi Pay API", "base_path": kaspi.PREFIX},
        },
        "dashboard": f"{ui.bp.url_prefix}/",
        "control_api": control.bp.url_prefix,
        "health": f"{control.bp.url_prefix}/health",
    }
    app.add_url_rule("/", "index", lambda: index, methods=["GET"])


def _start_settings(app: Flask, rt: Runtime) -> None:
    """The chaos profile, defects and script the simulator was started with: applied once per
    start (by the first of its workers), over whatever an earlier start left."""
    boot = os.environ.get("PAYSIM_BOOT_ID") or uuid.uuid4().hex
    with rt.control.change():
        with rt.store.tx() as tx:
            first = tx.get_meta("boot") != boot
            if first:
                tx.set_meta("boot", boot)
        if not first:
            return
        rt.outcomes.clear()
        rt.faults.clear()
        rt.defects.disable()
        rt.faults.set_chaos(app.config["CHAOS"], rt.control.creates)
        rt.defects.enable(*app.config["DEFECTS"])
        if app.config["SCRIPT_FILE"]:
            script = yaml.safe_load(Path(app.config["SCRIPT_FILE"]).read_text(encoding="utf-8"))
            with app.app_context():
                control.apply_script(app, rt, script or {})


def _install_error_handlers(app: Flask, envelopes: Envelopes) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return envelopes.render(request.path, error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        known = HTTP_ERRORS.get(error.code or 500)
        code = known.code if known else (error.name or "error").lower().replace(" ", "_")
        api_error = ApiError(error.description or error.name, code=code, status=error.code)
        resp = envelopes.render(request.path, api_error)
        for name, value in error.get_headers():
            if name.lower() == "allow":  # 405 says which methods the path takes
                resp.headers[name] = value
        return resp

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if app.extensions["paysim.runtime"].store.transient(error):
            log.warning("store busy on %s %s: %s", request.method, request.path, error)
            return envelopes.render(request.path, Busy(headers={"Retry-After": "1"}))
        log.exception("unhandled error on %s %s", request.method, request.path)
        return envelopes.render(request.path, InternalError("internal error"))


def _install_client_grading(app: Flask, rt: Runtime) -> None:
    """Every request to an API, recorded against its credential after its answer (with the
    answer's body, unless it streams)."""

    @app.before_request
    def _started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _record(resp: Response) -> Response:
        who = _client_of()
        if who is None:
            return resp
        api, credential = who
        error = None
        if resp.status_code >= 400 and resp.mimetype == "application/json":
            error = client_log.error_of(resp.get_data())
        retry_after = resp.headers.get("Retry-After")
        try:
            body = request.get_data(cache=True)
        except Busy:  # unread by the view, and no place to wait on it now: logged as unread
            body = b""
        answer = client_log.answered(
            None if resp.is_streamed else resp.get_data(),
            resp.headers.get("Content-Type", ""),
            fault=g.get("faulted", False),
            took=time.perf_counter() - g.started if "started" in g else None,
        )
        with rt.store.tx() as tx:
            client_log.record(
                tx,
                api=api,
                client=client_log.masked(credential),
                method=request.method,
                path=request.path,
                query=request.args.to_dict(),
                headers=dict(request.headers),
                body=body,
                status=resp.status_code,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                error=error,
                at=time.time(),
                situation=g.get("exam"),
                answer=answer,
            )
        return resp


def _client_of() -> tuple[str, str] | None:
    """(api, credential) of a request to either API that carries one."""
    path = request.path
    if path.startswith(freefin.PREFIX + "/"):
        api, credential = "freefin", request.headers.get("Authorization")
    elif path.startswith(kaspi.PREFIX + "/"):
        api, credential = "kaspi", request.headers.get("X-API-Key")
    else:
        return None
    return (api, credential) if credential else None


def _known(api: str, credential: str) -> bool:
    """Whether the API knows this credential."""
    state = current_app.extensions[f"paysim.{api}"]
    try:
        if api == "freefin":
            state.terminals.authenticate(credential)
        else:
            state.merchants.authenticate(credential)
    except ApiError:
        return False
    return True


def _examined(rt: Runtime) -> Fault | None:
    """The exam's situation this request meets, as a fault to answer with (the event stream's
    cut is made after the answer: ``g.exam_cut``)."""
    who = _client_of()
    if who is None:
        return None
    api, credential = who
    if not _known(api, credential):  # refused anyway: no situation, no row of its own
        return None
    operation = operations.match(api, request.method, request.path)
    situation = exam.next_situation(
        rt.store,
        api,
        client_log.masked(credential),
        exam.kind_of(api, operation.name) if operation else None,
        exam.fingerprint(request.method, request.full_path, request.get_data(cache=True)),
    )
    if situation is None:
        return None
    g.exam = situation.name
    if not situation.fault:
        g.exam_cut = True
        return None
    return Fault(path="", **situation.fault)


def _install_faults(app: Flask, rt: Runtime, envelopes: Envelopes) -> None:
    @app.before_request
    def _inject() -> Response | None:
        if (request.content_length or 0) > MAX_BODY_BYTES:  # also where no view reads it
            raise RequestEntityTooLarge()
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if chunked and len(request.get_data(cache=True)) >= MAX_BODY_BYTES:
            raise RequestEntityTooLarge()  # the stream stops at the limit; it does not say so
        rt.control.refresh()  # what another process of this store changed
        if request.path.startswith("/_sim"):
            return None
        fault = rt.control.match_fault(request.method, request.path)
        if fault is None and app.config["EXAM"]:
            fault = _examined(rt)
        if fault is None:
            return None
        if fault.kind == "latency":
            time.sleep(fault.latency_ms / 1000)
            return None
        if fault.when == "after":
            g.fault_after = fault  # the request is handled first; its answer is lost after
            return None
        g.faulted = True
        return fault_answer(fault, lambda error: envelopes.render(request.path, error))

    @app.after_request
    def _lose_answer(resp: Response) -> Response:
        if g.pop("exam_cut", False) and resp.status_code == 200 and resp.is_streamed:
            resp.response = exam.cut_after_first_event(resp.response)
        fault = g.pop("fault_after", None)
        if fault is None or resp.status_code >= 400:
            return resp
        g.faulted = True
        return fault_answer(fault, lambda error: envelopes.render(request.path, error))
