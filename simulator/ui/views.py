"""The dashboard at ``/_sim/ui``: server-rendered pages over the simulator's state.

It reads the store; every change it offers (a transition, a delivery retried, the clock moved,
a defect or fault switched, a reset) is a button whose script calls the control API, the one
way to change the simulator's state, guarded as that API is. With a control token set, the
pages need it too: as the ``X-Control-Token`` header, or once as ``?token=``, which leaves an
HttpOnly, SameSite=Strict cookie for the dashboard's own path.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from simulator import har
from simulator.control.registry import lookup
from simulator.control.routes import TOKEN_HEADER
from simulator.core import webhooks
from simulator.core.clock import iso
from simulator.core.faults import CHAOS
from simulator.core.retention import pruned
from simulator.core.runtime import Runtime
from simulator.freefin import payments, payouts
from simulator.grading import client_log, client_report
from simulator.kaspi import audit, catalog, invoices, subscriptions
from simulator.kaspi import refunds as kaspi_refunds
from simulator.kaspi.notify import ENDPOINT_KIND
from simulator.ui import data
from simulator.ui.data import Kind

bp = Blueprint("ui", __name__, url_prefix="/_sim/ui", template_folder="templates")
COOKIE = "paysim_control"
KINDS = (
    Kind("freefin", "payment", payments.KIND),
    Kind("freefin", "payout", payouts.KIND),
    Kind("kaspi", "invoice", invoices.KINDS["invoice"]),
    Kind("kaspi", "qr", invoices.KINDS["qr"]),
    Kind("kaspi", "refund", kaspi_refunds.KIND),
    Kind("kaspi", "subscription", subscriptions.KIND),
    Kind("kaspi", "catalog-item", catalog.KIND),
    Kind("kaspi", "webhook-endpoint", ENDPOINT_KIND),
    Kind("kaspi", "audit-entry", audit.KIND),
)
DELIVERY_STATUSES = ("queued", "sending", "retrying", "delivered", "dead")


def _rt() -> Runtime:
    rt: Runtime = current_app.extensions["paysim.runtime"]
    rt.control.refresh()
    return rt


def _kind(api: str, name: str) -> Kind:
    for kind in KINDS:
        if (kind.api, kind.name) == (api, name):
            return Kind(kind.api, kind.name, kind.store_kind, lookup(current_app, api, name))
    raise LookupError(f"{api}/{name}")


@bp.before_request
def _guarded() -> BaseResponse | None:
    token = current_app.config.get("CONTROL_TOKEN")
    if not token:
        return None
    given = request.args.get("token")
    if given is not None:  # once, from a link: kept in a cookie, dropped from the address
        response = redirect(quote(request.path))  # a %0A in the path stays one
        if hmac.compare_digest(given.encode(), str(token).encode()):
            response.set_cookie(
                COOKIE, given, httponly=True, samesite="Strict", path=bp.url_prefix or "/"
            )
        return response
    given = request.headers.get(TOKEN_HEADER) or request.cookies.get(COOKIE, "")
    if hmac.compare_digest(given.encode(), str(token).encode()):
        return None
    return Response(render_template("ui/locked.html"), status=401, mimetype="text/html")


@bp.after_request
def _framed_nowhere(response: BaseResponse) -> BaseResponse:
    """No other site may frame the pages (a click on them changes the simulator), and no cache
    keeps a page that carries the control token."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _shared() -> dict[str, Any]:
    rt = _rt()
    return {
        "now": iso(rt.clock.now()),
        "offset": rt.clock.offset,
        "token": current_app.config.get("CONTROL_TOKEN") or "",
        "kinds": KINDS,
        "merchant_name": _namer(rt),
        "money": data.money,
        "pruned": pruned(rt.store),
        "iso": iso,
        "retention": rt.retention,
    }


def _namer(rt: Runtime) -> Any:
    names = data.merchant_names(rt.seed)
    return lambda api, owner: names.get((api, owner), owner)


@bp.get("/")
def overview() -> str:
    rt = _rt()
    found = data.counts(rt.store)
    merchants: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        for (store_kind, owner, status), n in sorted(found.items()):
            if store_kind != kind.store_kind:
                continue
            row = merchants.setdefault(f"{kind.api}:{owner}", {"api": kind.api, "owner": owner})
            row.setdefault(kind.name, {})[status] = n
    return render_template(
        "ui/overview.html",
        merchants=sorted(merchants.values(), key=lambda m: (m["api"], m["owner"])),
        defects=rt.defects.catalog,
        active=set(rt.defects.active),
        faults=rt.faults.list(),
        chaos=rt.faults.chaos_profile,
        profiles=sorted(CHAOS),
        grading=bool(current_app.config.get("GRADE_CLIENTS")),
        delivery_counts=webhooks.counts_by_status(rt.store),
    )


@bp.get("/<api>/<name>")
def listing(api: str, name: str) -> str | tuple[str, int]:
    try:
        kind = _kind(api, name)
    except LookupError:
        return render_template("ui/missing.html", what=f"{api}/{name}"), 404
    merchant, status = request.args.get("merchant"), request.args.get("status")
    items = data.newest(_rt().store, kind.store_kind, merchant, status)
    return render_template(
        "ui/objects.html",
        kind=kind,
        items=items,
        merchant=merchant,
        status=status,
        grading=bool(current_app.config.get("GRADE_CLIENTS")),
    )


@bp.get("/<api>/<name>/<obj_id>")
def detail(api: str, name: str, obj_id: str) -> str | tuple[str, int]:
    rt = _rt()
    try:
        kind = _kind(api, name)
    except LookupError:
        return render_template("ui/missing.html", what=f"{api}/{name}"), 404
    found = data.one(rt.store, kind.store_kind, obj_id)
    if found is None:
        return render_template("ui/missing.html", what=f"{api} {name} {obj_id}"), 404
    doc, owner = found
    moves = kind.control.allowed(str(doc.get("status"))) if kind.control else ()
    return render_template(
        "ui/object.html",
        kind=kind,
        doc=doc,
        owner=owner,
        plan=doc.get("_plan"),
        moves=moves,
        shown=json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True),
        events=data.history(rt.store, api, owner, obj_id),
    )


@bp.get("/deliveries")
def delivery_log() -> str:
    api, status = request.args.get("api"), request.args.get("status")
    items = data.deliveries(_rt().store, api, status)
    return render_template(
        "ui/deliveries.html", items=items, api=api, status=status, statuses=DELIVERY_STATUSES
    )


@bp.get("/clients")
def clients() -> str:
    grading = bool(current_app.config.get("GRADE_CLIENTS"))
    report = client_report.report(_rt().store) if grading else {"clients": []}
    return render_template("ui/clients.html", grading=grading, report=report)


@bp.get("/<api>/merchant/<merchant>/session.har")
def session_har(api: str, merchant: str) -> Response:
    """One merchant's session, every request its credentials made and its answer, in order,
    as HAR 1.2 (what ``paysim replay`` and ``paysim scenario from-har`` read)."""
    rt = _rt()
    clients = data.merchant_clients(rt.seed, api, merchant)
    if clients is None:
        return _json_error(404, f"the seed has no {api} merchant {merchant}")
    if not current_app.config.get("GRADE_CLIENTS"):
        return _json_error(
            409, "the client log is off: start the simulator with --grade-clients to keep sessions"
        )
    base = request.host_url.rstrip("/")
    logged = client_log.session(rt.store, api, clients)
    body = har.document(
        [har.from_log(entry, answer, base) for entry, answer in logged],
        creator="paysim simulator",
        comment=har.FROM_LOG,
    )
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"paysim-{api}-{merchant}.har")
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json")


def url(kind: Kind, **args: Any) -> str:
    return url_for("ui.listing", api=kind.api, name=kind.name, **args)


bp.add_app_template_global(url, "kind_url")
