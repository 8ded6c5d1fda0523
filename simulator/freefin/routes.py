"""freefin's views: one function per operation of the seed, over the HTTP layer in ``api.py``;
the event stream."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from flask import Flask, Response, g, request

from simulator.control.registry import Controllable, register
from simulator.core import events
from simulator.core.errors import BadRequest, TooManyStreams
from simulator.core.runtime import Runtime
from simulator.freefin import api, banks, checkout, defects, payments, payouts, refunds, rules
from simulator.freefin.api import PREFIX, bp, render_error
from simulator.freefin.terminals import Terminals
from simulator.web import json_body

__all__ = ["PREFIX", "init_app", "render_error"]

LIVENESS_S = 1.0  # how often a quiet stream asks the server whether its client is still there
READ_GAP_S = 0.05  # a stream reads the store at most this often (its events then come together)
EVENTS_PER_READ = 500
PROBE_WAIT_S = 0.3  # how long a stream refused a place waits for probed streams to close
STREAM_RETRY_S = 5  # the Retry-After of a stream refused a place


def init_app(app: Flask, rt: Runtime) -> None:
    state = api.FreefinState(rt)
    app.extensions["paysim.freefin"] = state
    for merchant_id, limit in state.terminals.rate_limits.items():
        rt.limiter.configure(f"freefin:{merchant_id}", limit["rate"], limit["burst"])
    defects.register(rt.defects)
    payments.register_timers(rt, state.terminals)
    payouts.register_timers(rt, state.terminals)
    for controllable in _controllables(rt, state.terminals):
        register(app, controllable)
    app.register_blueprint(bp)
    app.register_blueprint(checkout.bp)


def _controllables(rt: Runtime, terminals: Terminals) -> list[Controllable]:
    """What the control API may drive: payments and payouts, to a status of their lifecycle."""
    return [
        Controllable(
            "freefin",
            "payment",
            payments.PAYMENT_OUTCOMES,
            lambda pid, status, reason: payments.force(rt, terminals, pid, status, reason),
            lifecycle=payments.LIFECYCLE,
            via="processing",
        ),
        Controllable(
            "freefin",
            "payout",
            payouts.PAYOUT_OUTCOMES,
            lambda pid, status, reason: payouts.force(rt, terminals, pid, status, reason),
            1000,
            lifecycle=payouts.LIFECYCLE,
        ),
    ]


@bp.post("/payments")
@api.stores_errors("createPayment")
def create_payment() -> Response:
    state = api.current()
    key = api.idempotency_key()
    body = json_body()
    in_force = rules.of(state.rt)
    strict = in_force.enforces_amount_minimum()
    api.validate(state.create_payment if strict else state.create_payment_lax, body)
    in_force.check_payment_body(body)
    base_url = f"{request.scheme}://{request.host}/"
    status, response = payments.create(state.rt, g.terminal, body, key, base_url)
    return api.json(in_force.created_payment(response), status)


@bp.get("/payments/<payment_id>")
def get_payment(payment_id: str) -> Response:
    rt = api.current().rt
    payment = payments.get(rt, g.terminal, payment_id)
    in_force = rules.of(rt)
    resp = api.json(payment, in_force.read_status())
    resp.headers["Content-Type"] = in_force.read_content_type()
    return resp


@bp.post("/payments/<payment_id>/cancel")
def cancel_payment(payment_id: str) -> Response:
    state = api.current()
    return api.json(payments.cancel(state.rt, state.terminals, g.terminal, payment_id), 200)


@bp.post("/payments/<payment_id>/refund")
@api.stores_errors("refundPayment")
def refund_payment(payment_id: str) -> Response:
    state = api.current()
    key = api.idempotency_key()
    body = json_body(required=False)
    api.validate(state.refund, body)
    status, refund = refunds.refund(state.rt, state.terminals, g.terminal, payment_id, body, key)
    return api.json(refund, status)


@bp.post("/payouts")
@api.stores_errors("createPayout")
def create_payout() -> Response:
    state = api.current()
    key = api.idempotency_key()
    body = json_body()
    api.validate(state.create_payout, body)
    status, response = payouts.create(state.rt, g.terminal, body, key)
    return api.json(response, status)


@bp.get("/payouts/<payout_id>")
def get_payout(payout_id: str) -> Response:
    return api.json(payouts.get(api.current().rt, g.terminal, payout_id), 200)


@bp.get("/banks/sbp")
def list_banks() -> Response:
    return api.json({"items": banks.listing()}, 200)


@bp.get("/events")
def stream_events() -> Response:
    rt = api.current().rt
    merchant = g.terminal.merchant_id
    resume = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if resume is not None and not (resume.isascii() and resume.isdigit() and len(resume) < 19):
        raise BadRequest("Last-Event-ID must be an event id of this stream")
    # a new stream starts after its merchant's newest event (an indexed read: after every
    # other merchant's too, it would read the whole table)
    owner = ("freefin", merchant)
    start = events.at(rt.store, int(resume)) if resume else events.newest(rt.store, owner)
    if not rules.of(rt).stream_resumes():
        start = events.newest(rt.store, owner)
    heartbeat = rules.of(rt).stream_heartbeat(rt.sse_heartbeat_s)
    if not _place(rt, merchant):
        raise TooManyStreams(
            f"no place for another event stream: at most {rt.streams.per_owner} per merchant "
            f"and {rt.streams.total} in all, each still read by its client",
            headers={"Retry-After": str(STREAM_RETRY_S)},
        )
    return Response(
        events.Held(_stream(rt, merchant, start, heartbeat), lambda: rt.streams.give(merchant)),
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


def _stream(
    rt: Runtime, merchant: str, cursor: events.Cursor, heartbeat: float
) -> Generator[str, None, None]:
    yield ": connected\n\n"
    no_ids = not rules.of(rt).stream_resumes()
    owner = ("freefin", merchant)
    rt.bus.join(owner)
    try:
        quiet_since = checked = time.monotonic()
        probed = rt.streams.probes
        read_at = 0.0
        while True:
            # events that come faster than a read each READ_GAP_S go out together
            time.sleep(max(0.0, read_at + READ_GAP_S - time.monotonic()))
            read_at = time.monotonic()
            version = rt.bus.version(owner)
            batch = events.since(rt.store, "freefin", merchant, cursor, EVENTS_PER_READ)
            if batch:  # in one chunk: one write, however many events
                cursor = batch[-1]["cursor"]
                yield "".join(_frame(event, no_ids) for event in batch)
                quiet_since = checked = time.monotonic()
            if len(batch) == EVENTS_PER_READ:
                continue
            while rt.bus.version(owner) == version:  # until this merchant's events move
                now = time.monotonic()
                if now - quiet_since >= heartbeat:
                    yield ": ping\n\n"
                    quiet_since = checked = now
                elif rt.streams.probes != probed or now - checked >= LIVENESS_S:
                    # is anyone still reading? (StreamPlaces.probe) An empty chunk writes
                    # nothing; the server closes the stream when its client has gone
                    probed = rt.streams.probes
                    yield ""
                    checked = now
                left = min(heartbeat - (now - quiet_since), LIVENESS_S - (now - checked))
                rt.bus.wait(owner, version, max(left, 0.0))
    finally:
        rt.bus.leave(owner)


def _frame(event: dict[str, Any], no_ids: bool) -> str:
    """One event as the stream sends it."""
    prefix = "" if no_ids else f"id: {event['seq']}\n"
    return f"{prefix}event: {event['kind']}\ndata: {event['body']}\n\n"
