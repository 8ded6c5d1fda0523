"""The hosted payment page behind ``payment_url``: a customer (or a browser test) pays or
declines a test payment by hand, the way a real acquirer's page would settle it."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, request

from simulator.core.errors import ApiError
from simulator.freefin import payments

bp = Blueprint("freefin_checkout", __name__, url_prefix="/pay")

PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>freefin test payment</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;color:#222}}
.card{{border:1px solid #ccc;border-radius:.5rem;padding:1.5rem}}
button{{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}}</style></head>
<body><div class="card"><p>TEST MODE · no money moves</p>
<h1>{amount} {currency}</h1><p>{description}</p><p>Status: <b id="status">{status}</b></p>
{form}</div></body></html>"""

FORM = """<form method="post"><button name="result" value="succeeded">Pay</button>
<button name="result" value="failed">Decline</button></form>"""


def _state() -> Any:
    return current_app.extensions["paysim.freefin"]


@bp.get("/<payment_id>")
def page(payment_id: str) -> Response:
    with _state().rt.store.read() as tx:
        doc = tx.get(payments.KIND, payment_id)
    if doc is None:
        return Response("<h1>Payment not found</h1>", 404, mimetype="text/html")
    rub, kop = divmod(doc["amount"], 100)
    html = PAGE.format(
        amount=f"{rub:,}".replace(",", " ") + f",{kop:02d}",
        currency=escape(doc["currency"]),
        description=escape(doc.get("description", doc.get("order_id", ""))),
        status=escape(doc["status"]),
        form=FORM if doc["status"] == "pending" else "",
    )
    return Response(html, 200, mimetype="text/html")


@bp.post("/<payment_id>")
def settle(payment_id: str) -> Response:
    result = request.form.get("result")
    state = _state()
    if result in ("succeeded", "failed"):
        try:
            payments.force(
                state.rt,
                state.terminals,
                payment_id,
                result,
                None if result == "succeeded" else "declined_by_customer",
            )
        except ApiError as error:
            return Response(escape(error.message), error.status, mimetype="text/plain")
    return redirect(f"/pay/{quote(payment_id, safe='')}", code=303)  # type: ignore[return-value]
