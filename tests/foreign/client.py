"""A tiny JSON client for the independent servers' own tests (one closed connection a call)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

Reply = tuple[int, dict[str, str], Any]


def send(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Reply:
    """Send one request; return the status, lower-cased headers and the JSON (or text) body."""
    parts = urlsplit(base)
    sent = dict(headers or {})
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        text = resp.read()
        found = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    if "json" in found.get("content-type", ""):
        return resp.status, found, json.loads(text)
    return resp.status, found, text.decode("utf-8", "replace")
