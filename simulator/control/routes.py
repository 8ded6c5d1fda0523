"""The /_sim control API: reset, clock, outcomes, transitions, faults, defects, webhooks."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from simulator.control.registry import lookup
from simulator.core import webhooks
from simulator.core.clock import iso
from simulator.core.errors import ApiError, BadRequest, NotFound
from simulator.core.outcomes import parse
from simulator.core.runtime import Runtime
from simulator.web import json_body

bp = Blueprint("control", __name__, url_prefix="/_sim")


def _rt() -> Runtime:
    return current_app.extensions["paysim.runtime"]


def render_error(error: ApiError) -> Response:
    resp = jsonify({"error": {"code": error.code, "message": error.message}})
    resp.status_code = error.status
    return resp


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return render_error(error)


@bp.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@bp.post("/reset")
def reset() -> Response:
    _rt().reset()
    return jsonify({"status": "reset"})


@bp.get("/clock")
def clock() -> Response:
    rt = _rt()
    return jsonify({"now": iso(rt.clock.now()), "offset_s": rt.clock.offset})


@bp.post("/clock/advance")
def advance() -> Response:
    body = json_body()
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise BadRequest("seconds must be a number >= 0")
    rt = _rt()
    rt.advance(float(seconds))
    return jsonify({"now": iso(rt.clock.now()), "offset_s": rt.clock.offset})


@bp.route("/outcomes", methods=["GET", "POST", "DELETE"])
def outcomes() -> Response:
    rt = _rt()
    if request.method == "DELETE":
        rt.outcomes.clear()
    elif request.method == "POST":
        queue_outcome(current_app, rt, json_body())
    return jsonify({"queued": rt.outcomes.pending()})


def queue_outcome(app: Flask, rt: Runtime, body: dict[str, Any]) -> None:
    item = lookup(app, str(body.get("api")), str(body.get("object")))
    if item is None:
        raise BadRequest("unknown api/object; e.g. freefin/payment, freefin/payout, kaspi/invoice")
    try:
        plan = parse(str(body.get("outcome")), item.outcomes,
                     int(body.get("delay_ms", item.default_delay_ms)))
    except (TypeError, ValueError) as exc:
        raise BadRequest(str(exc)) from exc
    merchant = body.get("merchant")
    rt.outcomes.push(item.api, item.object, plan, str(merchant) if merchant else None)


@bp.post("/transition")
def transition() -> Response:
    body = json_body()
    item = lookup(current_app, str(body.get("api")), str(body.get("object")))
    if item is None:
        raise BadRequest("unknown api/object")
    if not isinstance(body.get("id"), str) or not isinstance(body.get("status"), str):
        raise BadRequest("id and status are required strings")
    reason = body.get("reason")
    return jsonify(item.transition(body["id"], body["status"], reason))


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    rt = _rt()
    if request.method == "DELETE":
        rt.faults.clear()
    elif request.method == "POST":
        add_fault(rt, json_body())
    return jsonify({"faults": rt.faults.list()})


def add_fault(rt: Runtime, body: dict[str, Any]) -> None:
    allowed = {"path", "method", "kind", "latency_ms", "status", "count", "ratio"}
    unknown = set(body) - allowed
    if unknown or "path" not in body or "kind" not in body:
        raise BadRequest(f"a fault needs path and kind; allowed keys: {sorted(allowed)}")
    try:
        rt.faults.add(**body)
    except (TypeError, ValueError, re.error) as exc:
        raise BadRequest(f"bad fault: {exc}") from exc


@bp.route("/defects", methods=["GET", "POST", "DELETE"])
def defects() -> Response:
    rt = _rt()
    if request.method == "DELETE":
        rt.defects.disable()
    elif request.method == "POST":
        names = json_body().get("enable")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadRequest("enable must be a list of defect names")
        try:
            rt.defects.enable(*names)
        except KeyError as exc:
            raise BadRequest(str(exc.args[0])) from exc
    return jsonify({"active": rt.defects.active, "catalog": rt.defects.catalog})


@bp.get("/webhooks/deliveries")
def deliveries() -> Response:
    args = request.args
    items = webhooks.list_deliveries(_rt().store, api=args.get("api"), status=args.get("status"),
                                     owner=args.get("merchant"), limit=500)
    return jsonify({"items": items})


@bp.post("/webhooks/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> Response:
    rt = _rt()
    with rt.store.tx() as tx:
        if not webhooks.retry_now(tx, delivery_id, rt.clock.now()):
            raise NotFound("delivery not found")
    return jsonify({"status": "scheduled"})


@bp.post("/webhooks/endpoint")
def webhook_endpoint() -> Response:
    body = json_body()
    if body.get("api") != "freefin" or not isinstance(body.get("terminal_id"), str):
        raise BadRequest("api must be freefin and terminal_id a string")
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        raise BadRequest("url must be a string or null")
    rt = _rt()
    with rt.store.tx() as tx:
        tx.set_meta(f"freefin.endpoint.{body['terminal_id']}", url)
    return jsonify({"terminal_id": body["terminal_id"], "url": url})


@bp.route("/webhooks/config", methods=["GET", "POST"])
def webhook_config() -> Response:
    cfg = _rt().webhook_config
    if request.method == "POST":
        body = json_body()
        schedule = body.get("retry_schedule", cfg.retry_schedule)
        timeout = body.get("timeout_s", cfg.timeout_s)
        if (not isinstance(schedule, list) or not schedule
                or not all(isinstance(s, int | float) and s >= 0 for s in schedule)):
            raise BadRequest("retry_schedule must be a non-empty list of seconds")
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise BadRequest("timeout_s must be a positive number")
        cfg.retry_schedule, cfg.timeout_s = [float(s) for s in schedule], float(timeout)
    return jsonify({"retry_schedule": cfg.retry_schedule, "timeout_s": cfg.timeout_s})


@bp.get("/events")
def list_events() -> Response:
    rt = _rt()
    api, merchant = request.args.get("api"), request.args.get("merchant")
    where, params = "1=1", list[str]()
    if api:
        where, params = where + " AND api=?", [*params, api]
    if merchant:
        where, params = where + " AND owner=?", [*params, merchant]
    with rt.store.read() as tx:
        rows = tx.execute(
            f"SELECT seq, api, owner, kind, body FROM events WHERE {where} "
            "ORDER BY seq LIMIT 1000", tuple(params)).fetchall()


    return jsonify({"items": [{"seq": r[0], "api": r[1], "merchant": r[2], "kind": r[3],
                               "body": json.loads(r[4])} for r in rows]})


@bp.post("/script")
def script() -> Response:
    apply_script(current_app, _rt(), json_body())
    return jsonify({"status": "applied"})


def apply_script(app: Flask, rt: Runtime, doc: dict[str, Any]) -> None:
    """A script: ``{defects: [..], faults: [..], outcomes: [..], webhooks: {..}}``."""
    unknown = set(doc) - {"defects", "faults", "outcomes", "webhooks"}
    if unknown:
        raise BadRequest(f"unknown script sections: {sorted(unknown)}")
    try:
        rt.defects.enable(*doc.get("defects", []))
    except KeyError as exc:
        raise BadRequest(str(exc.args[0])) from exc
    for fault in doc.get("faults", []):
        add_fault(rt, fault)
    for outcome in doc.get("outcomes", []):
        queue_outcome(app, rt, outcome)
    if "webhooks" in doc:
        cfg = rt.webhook_config
        cfg.retry_schedule = list(doc["webhooks"].get("retry_schedule", cfg.retry_schedule))
        cfg.timeout_s = float(doc["webhooks"].get("timeout_s", cfg.timeout_s))
