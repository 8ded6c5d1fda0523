"""Credentials per security scheme, and freefin's request signature over the exact bytes sent.

The key itself goes through Schemathesis's auth config (tied to the spec's security scheme), so
its ``ignored_auth`` check knows what to strip. The signature is added by a ``requests`` auth
object from a ``before_call`` hook: it runs on the prepared request, so it signs the body as it
goes on the wire, generated or not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from harness.contract.context import run_of
from harness.target import Target

SIGNATURE_HEADER = "X-Freefin-Signature"
_SIGNATURE_SHAPE = re.compile(r"^sha256=[a-f0-9]{64}$")


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(body, secret)>``, as freefin documents it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FreefinSigner(requests.auth.AuthBase):
    """Sign every POST over the bytes of its prepared body.

    With ``keep_generated`` (a case whose headers were generated as negative data) a signature
    that is not of the documented shape is left as generated, so the implementation's
    rejection of it can be checked; otherwise a generated signature is replaced.
    """

    def __init__(self, secret: str, keep_generated: bool = False) -> None:
        self.secret = secret
        self.keep_generated = keep_generated

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.method != "POST":
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
    """Sign freefin requests of the contract suite (other schemas are left alone)."""
    run = run_of(case)
    if run is None or not run.signing_secret or "app" in kwargs:
        return
    negative_headers = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    kwargs["auth"] = FreefinSigner(run.signing_secret, keep_generated=negative_headers)


def credentials(target: Target, api: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(Schemathesis auth entry, headers of merchant A, headers of merchant B) for an API."""
    if api == "freefin":
        return (
            {"bearer": target.freefin_key},
            {"Authorization": f"Bearer {target.freefin_key}"},
            {"Authorization": f"Bearer {target.freefin_key_b}"} if target.freefin_key_b else {},
        )
    return (
        {"api_key": target.kaspi_key},
        {"X-API-Key": target.kaspi_key},
        {"X-API-Key": target.kaspi_key_b} if target.kaspi_key_b else {},
    )


def secret_placeholders(target: Target) -> dict[str, str]:
    """Secret values -> the environment variable to write in their place in curl commands."""
    names = ("freefin_key", "freefin_key_b", "freefin_limited_key", "kaspi_key", "kaspi_key_b",
             "kaspi_limited_key")
    return {
        getattr(target, name): f"${{PAYSIM_{name.upper()}}}"
        for name in names
        if getattr(target, name)
    }
