"""HMAC-SHA256 signatures as the harness makes and checks them: the hex digest of the exact
body bytes, after a prefix (``sha256=`` for both supplements; a target profile may say other)."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, secret: str, *, prefix: str = PREFIX, upper: bool = False) -> str:
    """``<prefix><hex HMAC-SHA256 of body with secret>`` (upper-case hex when asked, to forge)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return prefix + (digest.upper() if upper else digest)


def verify(body: bytes, header: str | None, secret: str, prefix: str = PREFIX) -> bool:
    """Whether ``header`` is the signature of ``body`` with ``secret``, in constant time."""
    if not header or not secret:
        return False
    return hmac.compare_digest(header.encode(), sign(body, secret, prefix=prefix).encode())
