"""Judging one response inside ``catch_response=True``: status, JSON, a light body check.

Every failure gets a reason that reads on its own in Locust's failure table (status, the
server's error code, what was wrong with the body), grouped rather than unique: ids and
amounts stay out of reasons so that equal failures add up to one row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, Protocol

BodyCheck = Callable[[Any], str | None]


class CaughtResponse(Protocol):
    """What Locust's response context managers offer (FastHttpUser and HttpUser alike)."""

    status_code: int

    @property
    def text(self) -> str | None: ...

    def success(self) -> None: ...

    def failure(self, exc: Any) -> None: ...


def error_code(body: Any) -> str:
    """The error code of either API's envelope, or ''."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # freefin: {"error": {"code", "message"}}
            return str(err.get("code", ""))
        if isinstance(err, str):  # Kaspi: {"error", "message", "details", "timestamp"}
            return err
    return ""


def judge(
    resp: CaughtResponse,
    expected: Collection[int],
    check: BodyCheck | None = None,
    then_status: int | None = None,
) -> Any:
    """Mark ``resp`` a success or a failure with a reason; return the JSON body on success.

    ``then_status``: after the body check passed, the status must also be this one (so a body
    check can run on every status of ``expected`` before the exact status is held against it).
    """
    status = resp.status_code
    if not status:
        error = getattr(resp, "error", None)
        kind = f": {type(error).__name__}" if error else ""
        resp.failure(f"no response (connection error or timeout{kind})")
        return None
    try:
        body = json.loads(resp.text or "")
    except ValueError:
        body = None
    if status not in expected:
        code = error_code(body)
        extra = f" {code}" if code else ""
        if status == 429:
            resp.failure(f"HTTP 429{extra}: rate limited (spread load over more merchants)")
        else:
            resp.failure(f"HTTP {status}{extra}, expected {'/'.join(map(str, sorted(expected)))}")
        return None
    if body is None:
        resp.failure(f"HTTP {status}: body is not JSON")
        return None
    reason = check(body) if check else None
    if reason:
        resp.failure(f"HTTP {status}: {reason}")
        return None
    if then_status is not None and status != then_status:
        resp.failure(f"HTTP {status}, expected {then_status}")
        return None
    resp.success()
    return body


def has(*fields: str) -> BodyCheck:
    """A body check: an object with these fields present."""

    def check(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body is not an object"
        missing = [f for f in fields if f not in body]
        return f"missing {', '.join(missing)}" if missing else None

    return check


def status_in(allowed: Collection[str], path: tuple[str, ...] = ()) -> BodyCheck:
    """A body check: ``id`` present and ``status`` one of ``allowed`` (under ``path``)."""

    def check(body: Any) -> str | None:
        obj = body
        for key in path:
            obj = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(obj, dict) or not obj.get("id"):
            return f"no {'.'.join(path) or 'object'} with an id"
        if obj.get("status") not in allowed:
            return f"status {obj.get('status')!r} not one of {sorted(allowed)}"
        return None

    return check


def list_of(*keys: str) -> BodyCheck:
    """A body check for list endpoints: a JSON array, or an object holding one under a key."""

    def check(body: Any) -> str | None:
        if isinstance(body, list):
            return None
        if isinstance(body, dict) and any(isinstance(body.get(k), list) for k in keys):
            return None
        return f"no list (looked for a JSON array or {', '.join(keys)})"

    return check


def items(body: Any, *keys: str) -> list[Any]:
    """The list a list endpoint returned (see :func:`list_of`)."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in keys:
            if isinstance(body.get(key), list):
                return list(body[key])
    return []


def same_id(expected: str, path: tuple[str, ...] = ()) -> BodyCheck:
    """A body check: the object (at ``path``) is the one asked for."""

    def check(body: Any) -> str | None:
        obj = body
        for key in path:
            obj = obj.get(key) if isinstance(obj, dict) else None
        return None if isinstance(obj, dict) and obj.get("id") == expected else "another object"

    return check


def both(*checks: BodyCheck) -> BodyCheck:
    """A body check passing when every one of ``checks`` does (the first reason otherwise)."""

    def check(body: Any) -> str | None:
        return next((r for c in checks if (r := c(body))), None)

    return check
