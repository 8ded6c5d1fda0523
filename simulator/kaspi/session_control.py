"""/_sim/kaspi: break or mend a merchant's Kaspi session (the 409 kaspi_not_connected paths)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from simulator.core.errors import BadRequest, NotFound
from simulator.kaspi.merchants import Merchant, session, set_connected
from simulator.web import json_body

bp = Blueprint("kaspi_control", __name__, url_prefix="/_sim/kaspi")


def _merchant(merchant_id: object) -> Merchant:
    state = current_app.extensions["paysim.kaspi"]
    merchant: Merchant | None = None
    if isinstance(merchant_id, str):
        merchant = state.merchants.by_id.get(merchant_id)
    if merchant is None:
        raise NotFound(f"no Kaspi merchant {merchant_id!r}")
    return merchant


@bp.route("/session", methods=["GET", "POST"])
def kaspi_session() -> Response:
    """GET ?merchant_id=: the stored session; POST {"merchant_id", "connected"}: set it."""
    rt = current_app.extensions["paysim.runtime"]
    if request.method == "GET":
        merchant = _merchant(request.args.get("merchant_id"))
        with rt.store.read() as tx:
            state = session(tx, merchant)
    else:
        body = json_body()
        merchant = _merchant(body.get("merchant_id"))
        if not isinstance(body.get("connected"), bool):
            raise BadRequest("connected must be true or false")
        with rt.store.tx() as tx:
            state = set_connected(tx, merchant, body["connected"], rt.clock.now())
    return jsonify({"merchant_id": merchant.id, "connected": state["connected"]})
