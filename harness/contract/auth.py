"""Credentials per security scheme, and freefin's request signature over the exact bytes sent.

The key itself goes through Schemathesis's auth config (tied to the spec's security scheme), so
its ``ignored_auth`` check knows what to strip. The signature is added by a ``requests`` auth
object from a ``before_call`` hook: it runs on the prepared request, so it signs the body as it
goes on the wire, generated or not.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from harness import masking, signing
from harness.apis import FACTS, freefin
from harness.contract.context import run_of
from harness.target import Target

SIGNATURE_HEADER = freefin.SIGNATURE_HEADER  # the one API whose requests are signed
_SIGNATURE_SHAPE = re.compile("^" + re.escape(signing.PREFIX) + "[a-f0-9]{64}$")
FRAMING_HEADERS = (
    "Expect", "Content-Length", "Transfer-Encoding", "Host", "Connection", "TE", "Upgrade",
    "Trailer",
)  # fmt: skip


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(body, secret)>``, as freefin documents it."""
    return signing.sign(body, secret)


class RequestFinisher(requests.auth.AuthBase):
    """Last touches on the prepared request of a generated case.

    - An Idempotency-Key is made unique to the case (stable across its replays): generated
      cases reuse the spec's example key, and a later case with another body would get a
      409 conflict instead of exercising what it was generated for.
    - freefin: every POST is signed over the bytes of its prepared body. With
      ``keep_generated`` (the case was generated to negate the signature header) the
      generated value is left, so the implementation's rejection of it can be checked.
    - Headers that frame the HTTP message (``FRAMING_HEADERS``) are never taken from generated
      data: negative cases fill the headers with arbitrary names, and ``Expect: $2`` or
      ``Content-Length: j72V`` test the HTTP server in front of the API (whose answer, 417 or
      a proxy's page, no API document describes), not the API.
    """

    def __init__(
        self, case_id: str, secret: str, keep_generated: bool = False, keep_key: bool = False
    ) -> None:
        self.case_id = case_id
        self.keep_key = keep_key
        self.secret = secret
        self.keep_generated = keep_generated

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in FRAMING_HEADERS:
            request.headers.pop(name, None)
        request.prepare_content_length(request.body)
        key = request.headers.get("Idempotency-Key")
        if key and len(key) <= 40 and not self.keep_key:
            request.headers["Idempotency-Key"] = f"{key}.{self.case_id[:20]}"
        if request.method != "POST" or not self.secret:
            return request
        sent = request.headers.get(SIGNATURE_HEADER)
        if self.keep_generated and sent is not None and not _SIGNATURE_SHAPE.match(sent):
            return request
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers[SIGNATURE_HEADER] = signature(self.secret, body)
        return request


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]
) -> None:
    """Finish the suite's requests: unique Idempotency-Keys, freefin signatures."""
    run = run_of(case)
    if run is None or "app" in kwargs:
        return
    kwargs["auth"] = RequestFinisher(
        case.id,
        run.signing_secret,
        keep_generated=_header_negated(case, SIGNATURE_HEADER),
        keep_key=_header_negated(case, "Idempotency-Key"),
    )


def _header_negated(case: schemathesis.Case, header: str) -> bool:
    """Whether the case was generated to send an invalid value of ``header``.

    Schemathesis flags a whole location negative when any part of it is (or when it only tried
    to negate), so look at what the generation phase says it mutated.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    data = meta.phase.data
    targets = [(getattr(data, "parameter_location", None), getattr(data, "parameter", None))]
    targets += [(m.parameter_location, m.parameter) for m in getattr(data, "mutations", ())]
    return any(
        location == ParameterLocation.HEADER
        and (name is None or str(name).lower() == header.lower())
        for location, name in targets
    )


def credentials(target: Target, api: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(Schemathesis auth entry, headers of merchant A, headers of merchant B) for an API."""
    facts = FACTS[api]
    key = getattr(target, facts.credentials["key_a"][0])
    other = getattr(target, facts.credentials["key_b"][0])
    bearer = facts.key_header[1].strip().lower() == "bearer"
    return (
        {"bearer" if bearer else "api_key": key},
        facts.key_headers(key),
        facts.key_headers(other) if other else {},
    )


def signing_secret(target: Target, api: str) -> str:
    """The secret merchant A's requests are signed with ("" where the API signs none)."""
    field = FACTS[api].credentials["key_a"][1]
    return str(getattr(target, field)) if field else ""


def secret_placeholders(target: Target) -> dict[str, str]:
    """Secret values -> the environment variable to write in their place in curl commands."""
    return masking.placeholders(dataclasses.asdict(target))
