"""freefin HTTP layer: authenticate, rate-limit, verify signatures, validate, shape responses."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Generator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from simulator.core import codec, events, idempotency, spec
from simulator.core.errors import ApiError, BadRequest, TooManyStreams
from simulator.core.runtime import Runtime
from simulator.core.signing import mismatch_cause, verify, well_formed
from simulator.freefin import banks, checkout, defects, payments, payouts, refunds, rules
from simulator.freefin.terminals import Terminals
from simulator.web import credential_waived, error_response, json_body, state_methods, throttle

PREFIX = "/api/v1/public"
SHARED_POLL_S = 0.2
PROBE_WAIT_S = 0.3  # how long a stream refused a place waits for probed streams to close
STREAM_RETRY_S = 5  # the Retry-After of a stream refused a place
SPEC = "freefin.openapi.yaml"
bp = Blueprint("freefin", __name__, url_prefix=PREFIX)


class FreefinState:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.terminals = Terminals(rt.seed["freefin"])
        self.create_payment = spec.request_validator(SPEC, "/api/v1/public/payments", "post")
        lax = spec.load(SPEC)["components"]["schemas"]["CreatePaymentInput"]
        lax = {**lax, "properties": {**lax["properties"], "amount": {"type": "integer"}}}
        self.create_payment_lax = spec.validator(lax)
        self.create_payout = spec.request_validator(SPEC, "/api/v1/public/payouts", "post")
        self.refund = spec.request_validator(SPEC, "/api/v1/public/payments/{id}/refund", "post")


def init_app(app: Flask, rt: Runtime) -> None:
    state = FreefinState(rt)
    app.extensions["paysim.freefin"] = state
    for merchant_id, limit in state.terminals.rate_limits.items():
        rt.limiter.configure(f"freefin:{merchant_id}", limit["rate"], limit["burst"])
    defects.register(rt.defects)
    payments.register_timers(rt, state.terminals)
    payouts.register_timers(rt, state.terminals)
    app.register_blueprint(bp)
    app.register_blueprint(checkout.bp)


def _state() -> FreefinState:
    return current_app.extensions["paysim.freefin"]


def render_error(error: ApiError) -> Response:
    return error_response(error, rules.of(_state().rt).error_body(error))


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return render_error(error)


@bp.before_request
def _authenticate() -> None:
    state = _state()
    rt = state.rt
    in_force = rules.of(rt)
    header = request.headers.get("Authorization")
    if not header and credential_waived(in_force):
        g.terminal = next(iter(state.terminals.by_id.values()))
        return
    terminal = state.terminals.authenticate(header)
    throttle(rt.limiter, in_force, "freefin", terminal.merchant_id)
    if request.method == "POST" and in_force.verifies_signature():
        signature = request.headers.get("X-Freefin-Signature")
        if signature is None:
            if terminal.require_signature:
                raise BadRequest(
                    "this terminal requires X-Freefin-Signature", code="signature_required"
                )
        elif not well_formed(signature) or not verify(
            terminal.signing_secret, in_force.signed_bytes(request.get_data(cache=True)), signature
        ):
            cause = well_formed(signature) and mismatch_cause(
                terminal.signing_secret, request.get_data(cache=True), signature
            )
            raise BadRequest(
                "X-Freefin-Signature does not match the request body"
                + (f": {cause}; sign the exact bytes you send" if cause else ""),
                code="invalid_signature",
            )
    g.terminal = terminal


@bp.after_app_request
def _state_methods(resp: Response) -> Response:
    """What a freefin path says of its methods (Allow on 405 and OPTIONS)."""
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return resp
    return state_methods(resp, rules.of(_state().rt))


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not rules.of(_state().rt).key_acceptable(key):
        raise BadRequest("Idempotency-Key must be 1 to 64 characters", code="bad_request")
    return key


def _validate(validator: Any, body: dict[str, Any]) -> None:
    error = spec.first_error(validator, body)
    if error:
        raise BadRequest(f"{error[0]}: {error[1]}", code="bad_request")


def _stores_errors(operation: str) -> Any:
    """Where the rules say a refusal spends its key, a 4xx answer is kept under it."""

    def wrap(view: Any) -> Any:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except ApiError as error:
                rt = _state().rt
                key = request.headers.get("Idempotency-Key")
                if key and error.status < 500 and rules.of(rt).refusal_spends_key():
                    scope = payments.idem_scope(rt, g.terminal, operation)
                    with rt.store.tx(rows=True) as tx:
                        idempotency.remember(
                            tx,
                            scope,
                            key,
                            "error",
                            error.status,
                            {},
                            rt.clock.now() + rt.idempotency_ttl_s,
                        )
                raise

        return inner

    return wrap


@bp.post("/payments")
@_stores_errors("createPayment")
def create_payment() -> Response:
    state = _state()
    key = _idempotency_key()
    body = json_body()
    in_force = rules.of(state.rt)
    strict = in_force.enforces_amount_minimum()
    _validate(state.create_payment if strict else state.create_payment_lax, body)
    in_force.check_payment_body(body)
    base_url = f"{request.scheme}://{request.host}/"
    status, response = payments.create(state.rt, g.terminal, body, key, base_url)
    return _json(in_force.created_payment(response), status)


@bp.get("/payments/<payment_id>")
def get_payment(payment_id: str) -> Response:
    rt = _state().rt
    payment = payments.get(rt, g.terminal, payment_id)
    in_force = rules.of(rt)
    resp = _json(payment, in_force.read_status())
    resp.headers["Content-Type"] = in_force.read_content_type()
    return resp


@bp.post("/payments/<payment_id>/cancel")
def cancel_payment(payment_id: str) -> Response:
    state = _state()
    return _json(payments.cancel(state.rt, state.terminals, g.terminal, payment_id), 200)


@bp.post("/payments/<payment_id>/refund")
@_stores_errors("refundPayment")
def refund_payment(payment_id: str) -> Response:
    state = _state()
    key = _idempotency_key()
    body = json_body(required=False)
    _validate(state.refund, body)
    status, refund = refunds.refund(state.rt, state.terminals, g.terminal, payment_id, body, key)
    return _json(refund, status)


@bp.post("/payouts")
@_stores_errors("createPayout")
def create_payout() -> Response:
    state = _state()
    key = _idempotency_key()
    body = json_body()
    _validate(state.create_payout, body)
    status, response = payouts.create(state.rt, g.terminal, body, key)
    return _json(response, status)


@bp.get("/payouts/<payout_id>")
def get_payout(payout_id: str) -> Response:
    return _json(payouts.get(_state().rt, g.terminal, payout_id), 200)


@bp.get("/banks/sbp")
def list_banks() -> Response:
    return _json({"items": banks.listing()}, 200)


@bp.get("/events")
def stream_events() -> Response:
    rt = _state().rt
    merchant = g.terminal.merchant_id
    resume = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if resume is not None and not (resume.isascii() and resume.isdigit() and len(resume) < 19):
        raise BadRequest("Last-Event-ID must be an event id of this stream")
    start = events.at(rt.store, int(resume)) if resume is not None else events.last(rt.store)
    if not rules.of(rt).stream_resumes():
        start = events.last(rt.store)
    heartbeat = rules.of(rt).stream_heartbeat(rt.sse_heartbeat_s)
    if not _place(rt, merchant):
        raise TooManyStreams(
            f"no place for another event stream: at most {rt.streams.per_owner} per merchant "
            f"and {rt.streams.total} in all, each still read by its client",
            headers={"Retry-After": str(STREAM_RETRY_S)},
        )
    return Response(
        _Held(_stream(rt, merchant, start, heartbeat), lambda: rt.streams.give(merchant)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _place(rt: Runtime, merchant: str) -> bool:
    """A place for a stream of ``merchant``; when none is free, the open streams are probed,
    and the places of those whose clients have gone are taken back, at once."""
    if rt.streams.take(merchant):
        return True
    rt.streams.probe(rt.bus)
    deadline = time.monotonic() + PROBE_WAIT_S
    while time.monotonic() < deadline:
        time.sleep(0.01)
        if rt.streams.take(merchant):
            return True
    return False


class _Held:
    """A stream that gives its place back when the server closes it (the client gone, seen at
    the next write), started or not."""

    def __init__(self, inner: Generator[str, None, None], release: Callable[[], None]) -> None:
        self.inner, self.release = inner, release
        self.released = False

    def __iter__(self) -> _Held:
        return self

    def __next__(self) -> str:
        return next(self.inner)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            if not self.released:
                self.released = True
                self.release()


def _stream(
    rt: Runtime, merchant: str, cursor: events.Cursor, heartbeat: float
) -> Generator[str, None, None]:
    yield ": connected\n\n"
    no_ids = not rules.of(rt).stream_resumes()
    # Another process of the store writes events this one is not woken for: look every
    # SHARED_POLL_S, and ping only when a heartbeat's time has passed without an event.
    wait = min(heartbeat, SHARED_POLL_S) if rt.shared else heartbeat
    quiet_since = time.monotonic()
    probed = rt.streams.probes
    while True:
        version = rt.bus.version
        batch = events.since(rt.store, "freefin", merchant, cursor)
        for event in batch:
            cursor = event["cursor"]
            prefix = "" if no_ids else f"id: {event['seq']}\n"
            yield f"{prefix}event: {event['kind']}\ndata: {event['body']}\n\n"
        if batch:
            quiet_since = time.monotonic()
            continue
        if rt.streams.probes != probed:  # is anyone still reading? (StreamPlaces.probe)
            probed = rt.streams.probes
            yield ": ping\n\n"
            quiet_since = time.monotonic()
        if rt.bus.wait(version, wait) == version and time.monotonic() - quiet_since >= heartbeat:
            yield ": ping\n\n"
            quiet_since = time.monotonic()


def _json(body: Any, status: int) -> Response:
    body = rules.of(_state().rt).rendered(body)
    return Response(codec.dumpb(body), status=status, mimetype="application/json")
