"""Kaspi's HTTP layer: the blueprint, authentication (X-API-Key) and rate limit, the error
envelope, reading requests and writing answers. The views are in ``routes.py``."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from simulator.core import codec, spec
from simulator.core.clock import iso
from simulator.core.errors import ApiError, BadRequest
from simulator.core.runtime import Runtime
from simulator.kaspi import invoices, rules
from simulator.kaspi.merchants import Merchants
from simulator.web import credential_waived, error_response, json_body, state_methods, throttle

PREFIX = "/api"
SPEC = "kaspi.openapi.json"
PHONE_RE = re.compile(r"7[0-9]{10}")  # ECMA-262 \d: ASCII digits only
MAX_KEY = 255
# freefin's paths share the /api prefix (the longest prefix wins, as for error envelopes).
OTHER_API = "/api/v1/public/"
bp = Blueprint("kaspi", __name__, url_prefix=PREFIX)


class KaspiState:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.merchants = Merchants(rt.seed["kaspi"])
        self.validators = {
            name: spec.request_validator(SPEC, path, "post")
            for name, path in (
                ("invoice", "/v1/invoices"),
                ("qr", "/v1/qr"),
                ("webhook", "/v1/webhooks"),
                ("subscription", "/v1/subscriptions"),
                ("refund", "/v1/invoices/{id}/refund"),
                ("status_check", "/v1/invoices/status/check"),
                ("simulate", "/v1/sandbox/invoices/{id}/simulate"),
            )
        }


def current() -> KaspiState:
    state: KaspiState = current_app.extensions["paysim.kaspi"]
    return state


def render_error(error: ApiError) -> Response:
    """The spec's envelope: ``{"error": code, "message", "details", "timestamp"}``."""
    rt = current().rt
    return error_response(error, rules.of(rt).error_body(error, iso(rt.clock.now())))


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return render_error(error)


@bp.before_request
def _authenticate() -> None:
    state = current()
    rt = state.rt
    in_force = rules.of(rt)
    key = request.headers.get("X-API-Key")
    if not key and credential_waived(in_force):
        g.merchant = state.merchants.first
        return
    merchant = state.merchants.authenticate(key)
    throttle(rt.limiter, in_force, "kaspi", merchant.id, wait_detail="retry_after_s")
    g.merchant = merchant


@bp.after_app_request
def _state_methods(resp: Response) -> Response:
    """What a Kaspi path says of its methods (Allow on 405 and OPTIONS)."""
    if "Allow" not in resp.headers:  # most answers: asked before the request's path
        return resp
    path = request.path
    if not path.startswith(PREFIX + "/") or path.startswith(OTHER_API):
        return resp
    return state_methods(resp, rules.of(current().rt))


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_KEY:
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY} characters",
            code="validation_error",
            details={"fields": {"Idempotency-Key": "length"}},
        )
    return key


@contextlib.contextmanager
def refusal_spends_key(operation: str, key: str | None) -> Iterator[None]:
    """Where the rules say a refusal spends its key, a 4xx answer is kept under it."""
    try:
        yield
    except ApiError as error:
        rt = current().rt
        if key and 400 <= error.status < 500 and rules.of(rt).refusal_spends_key():
            invoices.remember_refusal(rt, g.merchant, operation, key, error)
        raise


def validated(name: str, required: bool = True) -> dict[str, Any]:
    """The JSON body checked against the spec's request schema; 400 naming the field."""
    body = rules.of(current().rt).request_body(json_body(required=required))
    error = spec.first_error(current().validators[name], body)
    if error:
        raise ApiError(
            f"{error[0]}: {error[1]}",
            code="validation_error",
            status=400,
            details={"fields": {error[0]: error[1]}},
        )
    return body


def phone(body: dict[str, Any]) -> None:
    if not PHONE_RE.fullmatch(body["phone_number"]):
        raise ApiError(
            "phone_number: must be 7 followed by 10 digits, e.g. 77011234567",
            code="validation_error",
            status=400,
            details={"fields": {"phone_number": "must match 7XXXXXXXXXX"}},
        )


def args() -> dict[str, str]:
    """The query's arguments; each may be given once."""
    repeated = sorted({k for k, v in request.args.lists() if len(v) > 1})
    if repeated:
        raise ApiError(
            f"{repeated[0]}: given more than once",
            code="validation_error",
            status=400,
            details={"fields": dict.fromkeys(repeated, "given twice")},
        )
    return request.args.to_dict()


def json(body: Any, status: int, replayed: bool | None = None) -> Response:
    body = rules.of(current().rt).rendered(body)
    resp = Response(codec.dumpb(body), status=status, mimetype="application/json")
    if replayed is not None:
        resp.headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return resp
