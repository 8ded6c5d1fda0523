"""HMAC-SHA256 signatures, as ``sha256=<hex>`` over raw bytes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re

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
