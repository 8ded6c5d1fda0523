"""The /_sim control API: reset, clock, outcomes, transitions, faults, defects, webhooks."""

from __future__ import annotations

import hmac
import os
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from simulator.control import schemas
from simulator.control.registry import lookup
from simulator.core import events, webhooks
from simulator.core.clock import iso
from simulator.core.errors import ApiError, BadRequest, NotFound
from simulator.core.faults import Fault
from simulator.core.outcomes import Plan, parse
from simulator.core.runtime import Runtime
from simulator.grading import client_log, client_report, client_rules, operations
from simulator.web import cross_site, foreign_host, json_body

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


TOKEN_HEADER = "X-Control-Token"


OPEN = ("/_sim/health",)  # tells nothing, changes nothing
OWN_GUARD = ("/_sim/ui",)  # the dashboard: the same token, also from its cookie (simulator.ui)
HOST_GUARDED = ("/_sim", "/pay/")  # the control API, the dashboard, the checkout page


def guard() -> Response | None:
    """Before every request of the app: under /_sim (every control blueprint, the Kaspi session
    control too) and on the checkout page, a request by a name the server does not answer to is
    refused; under /_sim, so is a change from another site's page, and with a control token
    configured the request must carry it."""
    path = request.path
    hosts = current_app.extensions["paysim.hosts"]
    if path.startswith(HOST_GUARDED) and path not in OPEN:
        refused = foreign_host(hosts)
        if refused is not None:
            return render_error(refused)
    if not (path == "/_sim" or path.startswith("/_sim/")) or path in OPEN:
        return None
    if cross_site(hosts):
        return render_error(
            ApiError(
                "the control API takes no change from another site's page",
                code="cross_site_refused",
                status=403,
            )
        )
    if path.startswith(OWN_GUARD):
        return None
    token = current_app.config.get("CONTROL_TOKEN")
    if not token:
        return None
    given = request.headers.get(TOKEN_HEADER, "")
    if hmac.compare_digest(given.encode(), str(token).encode()):
        return None
    return render_error(
        ApiError(
            f"the control API needs the {TOKEN_HEADER} header given at start",
            code="control_token_required",
            status=401,
        )
    )


@bp.get("/health")
def health() -> Response:
    return jsonify({"status": "ok", "worker": os.getpid()})  # which process answered


@bp.post("/reset")
def reset() -> Response:
    body = schemas.check(schemas.RESET, json_body(required=False))
    rt = _rt()
    rt.reset()
    if body.get("client_log"):
        client_log.clear(rt.store)
    return jsonify({"status": "reset"})


@bp.route("/clients/report", methods=["GET", "DELETE"])
def clients_report() -> Response:
    """Every client's requests judged against the integration rules (--grade-clients)."""
    app = current_app
    if not app.config["GRADE_CLIENTS"]:
        raise NotFound(
            "client grading is off: start the simulator with --grade-clients",
            code="grading_off",
        )
    rt = _rt()
    if request.method == "DELETE":
        client_log.clear(rt.store)
        return jsonify({"status": "cleared"})
    level = request.args.get("level", "spec")
    if level not in client_rules.LEVELS:
        raise BadRequest(f"level must be one of {', '.join(client_rules.LEVELS)}")
    return jsonify(client_report.report(rt.store, exam_on=bool(app.config["EXAM"]), level=level))


@bp.get("/clock")
def clock() -> Response:
    rt = _rt()
    return jsonify({"now": iso(rt.clock.now()), "offset_s": rt.clock.offset})


@bp.post("/clock/advance")
def advance() -> Response:
    seconds = schemas.check(schemas.ADVANCE, json_body())["seconds"]
    rt = _rt()
    rt.advance(float(seconds))
    return jsonify({"now": iso(rt.clock.now()), "offset_s": rt.clock.offset})


@bp.route("/outcomes", methods=["GET", "POST", "DELETE"])
def outcomes() -> Response:
    rt = _rt()
    if request.method == "DELETE":
        with rt.control.change():
            rt.outcomes.clear()
    elif request.method == "POST":
        body = schemas.check(schemas.OUTCOME, json_body())
        with rt.control.change():
            queue_outcome(current_app, rt, body)
    return jsonify({"queued": rt.outcomes.pending()})


def queue_outcome(app: Flask, rt: Runtime, body: dict[str, Any]) -> None:
    """Queue one outcome (``body`` already checked against ``schemas.OUTCOME``)."""
    api, obj, plan, merchant = _planned(app, body)
    rt.outcomes.push(api, obj, plan, merchant)


def _planned(app: Flask, body: dict[str, Any]) -> tuple[str, str, Plan, str | None]:
    item = lookup(app, body["api"], body["object"])
    if item is None:
        raise BadRequest("unknown api/object; e.g. freefin/payment, freefin/payout, kaspi/invoice")
    try:
        plan = parse(body["outcome"], item.outcomes, body.get("delay_ms", item.default_delay_ms))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    return item.api, item.object, plan, body.get("merchant")


@bp.post("/transition")
def transition() -> Response:
    body = schemas.check(schemas.TRANSITION, json_body())
    item = lookup(current_app, str(body.get("api")), str(body.get("object")))
    if item is None:
        raise BadRequest("unknown api/object")
    reason = body.get("reason")
    return jsonify(item.transition(body["id"], body["status"], reason))


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    rt = _rt()
    if request.method == "DELETE":
        with rt.control.change():
            rt.faults.clear()
    elif request.method == "POST":
        body = schemas.check(schemas.FAULT, json_body())
        with rt.control.change():
            add_fault(rt, body)
    return jsonify({"faults": rt.faults.list()})


@bp.route("/chaos", methods=["GET", "PUT"])
def chaos() -> Response:
    """The chaos profile: faults at a rate on every API (none, flaky, hostile); a reset keeps it."""
    rt = _rt()
    if request.method == "PUT":
        body = schemas.check(schemas.CHAOS, json_body())
        with rt.control.change():
            rt.faults.set_chaos(body["profile"], operations.create_paths())
    return jsonify(rt.faults.chaos())


def add_fault(rt: Runtime, body: dict[str, Any]) -> None:
    """Add one fault (``body`` already checked against ``schemas.FAULT``)."""
    try:
        rt.faults.add(**body)
    except (TypeError, ValueError, re.error) as exc:
        raise BadRequest(f"bad fault: {exc}") from exc


@bp.route("/defects", methods=["GET", "POST", "DELETE"])
def defects() -> Response:
    rt = _rt()
    if request.method == "DELETE":
        with rt.control.change():
            rt.defects.disable()
    elif request.method == "POST":
        names = schemas.check(schemas.DEFECTS, json_body())["enable"]
        try:
            with rt.control.change():
                rt.defects.enable(*names)
        except KeyError as exc:
            raise BadRequest(str(exc.args[0])) from exc
    return jsonify({"active": rt.defects.active, "catalog": rt.defects.catalog})


@bp.get("/webhooks/deliveries")
def deliveries() -> Response:
    args = request.args
    items = webhooks.list_deliveries(
        _rt().store,
        api=args.get("api"),
        status=args.get("status"),
        owner=args.get("merchant"),
        limit=500,
    )
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
    body = schemas.check(schemas.ENDPOINT, json_body())
    url = body.get("url")
    rt = _rt()
    with rt.store.tx() as tx:
        tx.set_meta(f"freefin.endpoint.{body['terminal_id']}", url)
    return jsonify({"terminal_id": body["terminal_id"], "url": url})


@bp.route("/webhooks/config", methods=["GET", "POST"])
def webhook_config() -> Response:
    cfg = _rt().webhook_config
    if request.method == "POST":
        body = schemas.check(schemas.WEBHOOK_CONFIG, json_body())
        with _rt().control.change():
            configure_webhooks(_rt(), body)
    return jsonify({"retry_schedule": cfg.retry_schedule, "timeout_s": cfg.timeout_s})


@bp.get("/events")
def list_events() -> Response:
    found = events.listing(_rt().store, request.args.get("api"), request.args.get("merchant"))
    return jsonify(
        {
            "items": [
                {**{k: v for k, v in e.items() if k != "owner"}, "merchant": e["owner"]}
                for e in found
            ]
        }
    )


@bp.get("/streams")
def streams() -> Response:
    """The event streams this worker holds open, and its places for them."""
    places = _rt().streams
    return jsonify(
        {
            "worker": os.getpid(),
            "open": places.held_all(),
            "places": places.total,
            "per_merchant": places.per_owner,
        }
    )


@bp.post("/script")
def script() -> Response:
    apply_script(current_app, _rt(), json_body())
    return jsonify({"status": "applied"})


def configure_webhooks(rt: Runtime, body: dict[str, Any]) -> None:
    """Set the retry schedule and timeout (``body`` checked against ``schemas.WEBHOOK_CONFIG``)."""
    cfg = rt.webhook_config
    cfg.retry_schedule = [float(s) for s in body.get("retry_schedule", cfg.retry_schedule)]
    cfg.timeout_s = float(body.get("timeout_s", cfg.timeout_s))


def apply_script(app: Flask, rt: Runtime, doc: Any) -> None:
    """A script: ``{defects: [..], faults: [..], outcomes: [..], webhooks: {..}}``.

    The whole script is checked first (schema, defect names, outcomes, fault paths), so a bad
    one changes nothing.
    """
    schemas.check(schemas.SCRIPT, doc)
    unknown = [n for n in doc.get("defects", []) if n not in rt.defects.catalog]
    if unknown:
        raise BadRequest(f"unknown defects: {', '.join(unknown)}")
    planned = [_planned(app, outcome) for outcome in doc.get("outcomes", [])]
    for fault in doc.get("faults", []):
        try:
            Fault(**fault)  # compiles the path: a bad regex is refused before anything applies
        except (ValueError, re.error) as exc:
            raise BadRequest(f"bad fault: {exc}") from exc
    with rt.control.change():
        rt.defects.enable(*doc.get("defects", []))
        for fault in doc.get("faults", []):
            add_fault(rt, fault)
        for api, obj, plan, merchant in planned:
            rt.outcomes.push(api, obj, plan, merchant)
        if "webhooks" in doc:
            configure_webhooks(rt, doc["webhooks"])
