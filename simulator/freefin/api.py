"""freefin's HTTP layer: the blueprint, authentication (a terminal's key), rate limit and request
signatures, the error envelope, reading requests and writing answers. The views are in
``routes.py``."""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from simulator.core import codec, idempotency, spec
from simulator.core.errors import ApiError, BadRequest
from simulator.core.runtime import Runtime
from simulator.core.signing import mismatch_cause, verify, well_formed
from simulator.freefin import payments, rules
from simulator.freefin.terminals import Terminals
from simulator.web import credential_waived, error_response, state_methods, throttle

PREFIX = "/api/v1/public"
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


def current() -> FreefinState:
    return current_app.extensions["paysim.freefin"]


def render_error(error: ApiError) -> Response:
    return error_response(error, rules.of(current().rt).error_body(error))


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return render_error(error)


@bp.before_request
def _authenticate() -> None:
    state = current()
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
    if "Allow" not in resp.headers:  # most answers: asked before the request's path
        return resp
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return resp
    return state_methods(resp, rules.of(current().rt))


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not rules.of(current().rt).key_acceptable(key):
        raise BadRequest("Idempotency-Key must be 1 to 64 characters", code="bad_request")
    return key


def validate(validator: Any, body: dict[str, Any]) -> None:
    error = spec.first_error(validator, body)
    if error:
        raise BadRequest(f"{error[0]}: {error[1]}", code="bad_request")


def stores_errors(operation: str) -> Any:
    """Where the rules say a refusal spends its key, a 4xx answer is kept under it."""

    def wrap(view: Any) -> Any:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except ApiError as error:
                rt = current().rt
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


def json(body: Any, status: int) -> Response:
    body = rules.of(current().rt).rendered(body)
    return Response(codec.dumpb(body), status=status, mimetype="application/json")
