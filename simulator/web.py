"""Flask-side helpers both APIs share: reading JSON bodies and answering app-level errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, request

from simulator.core.errors import ApiError, BadRequest

Renderer = Callable[[ApiError], Response]

MAX_BODY_BYTES = 64 * 1024


def json_body(required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 for malformed JSON, a non-object, or a missing body."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise BadRequest("a JSON request body is required")
        return {}
    mimetype = request.mimetype or ""
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BadRequest(f"Content-Type must be application/json, not {mimetype}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data


class Envelopes:
    """Which API's error envelope answers a path (longest prefix wins)."""

    def __init__(self, fallback: Renderer) -> None:
        self._by_prefix: list[tuple[str, Renderer]] = []
        self.fallback = fallback

    def register(self, prefix: str, renderer: Renderer) -> None:
        self._by_prefix.append((prefix, renderer))
        self._by_prefix.sort(key=lambda item: -len(item[0]))

    def render(self, path: str, error: ApiError) -> Response:
        for prefix, renderer in self._by_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return renderer(error)
        return self.fallback(error)
