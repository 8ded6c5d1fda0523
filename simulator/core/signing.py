"""HMAC-SHA256 signatures, as ``sha256=<hex>`` over raw bytes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

SIGNATURE_RE = re.compile(r"^sha256=[a-f0-9]{64}$")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def well_formed(header: str) -> bool:
    return bool(SIGNATURE_RE.fullmatch(header))


def verify(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the well-formed signature of ``body`` under ``secret``."""
    return well_formed(header) and hmac.compare_digest(sign(secret, body), header)


def same_secret(expected: str, given: str) -> bool:
    """Constant-time comparison of keys and secrets."""
    return hmac.compare_digest(expected.encode(), given.encode())


# How clients re-serialise an object before signing it instead of signing the bytes they send:
# each spacing (Python's default, compact, pretty-printed by 2 or 4 spaces or a tab), with keys
# sorted or not, non-ASCII escaped or not, and a trailing newline or not.
SPACINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("json.dumps(body)", {}),
    ("compact JSON", {"separators": (",", ":")}),
    ("JSON indented by 2", {"indent": 2}),
    ("JSON indented by 4", {"indent": 4}),
    ("JSON indented by a tab", {"indent": "\t"}),
)


def _reserialisations() -> tuple[tuple[str, dict[str, Any], bool], ...]:
    forms = []
    for spacing, options in SPACINGS:
        for sort_keys in (False, True):
            for ensure_ascii in (True, False):
                for newline in (False, True):
                    name = spacing + "".join(
                        text
                        for on, text in (
                            (sort_keys, ", keys sorted"),
                            (not ensure_ascii, ", non-ASCII unescaped"),
                            (ensure_ascii, ", non-ASCII escaped"),
                            (newline, ", a trailing newline"),
                        )
                        if on
                    )
                    kwargs = {**options, "sort_keys": sort_keys, "ensure_ascii": ensure_ascii}
                    forms.append((name, kwargs, newline))
    return tuple(forms)


RESERIALISATIONS = _reserialisations()


def mismatch_cause(secret: str, body: bytes, header: str) -> str | None:
    """Why a well-formed signature does not match ``body``, when a usual cause explains it: the
    client signed the object re-serialised (another spacing, key order, escaping or end of
    line), or the bytes sent without their trailing newline."""
    if body.endswith(b"\n") and verify(secret, body.rstrip(b"\r\n"), header):
        return "it matches the body without its trailing newline, not the bytes sent"
    try:
        document = json.loads(body)
    except ValueError:
        return None
    for name, options, newline in RESERIALISATIONS:
        again = json.dumps(document, **options).encode() + (b"\n" if newline else b"")
        if again != body and verify(secret, again, header):
            return f"it matches the body re-serialised as {name}, not the bytes sent"
    return None
