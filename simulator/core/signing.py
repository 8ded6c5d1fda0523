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


# How clients re-serialise an object before signing it instead of signing the bytes they send.
RESERIALISATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("json.dumps(body)", {}),
    ("compact JSON", {"separators": (",", ":")}),
    ("sorted keys", {"sort_keys": True}),
    ("compact JSON with sorted keys", {"separators": (",", ":"), "sort_keys": True}),
    ("JSON without ASCII escapes", {"ensure_ascii": False}),
    ("compact JSON without ASCII escapes", {"separators": (",", ":"), "ensure_ascii": False}),
)


def mismatch_cause(secret: str, body: bytes, header: str) -> str | None:
    """Why a well-formed signature does not match ``body``, when a usual cause explains it: the
    client signed the object re-serialised (another spacing, key order or escaping)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    for name, options in RESERIALISATIONS:
        again = json.dumps(document, **options).encode()
        if again != body and verify(secret, again, header):
            return f"it matches the body re-serialised as {name}, not the bytes sent"
    return None
