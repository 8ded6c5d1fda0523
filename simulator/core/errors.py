"""Errors are data: each carries its HTTP status, a wire code and a message.

API packages subclass or instantiate these; each API renders its own envelope in one handler.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"
    message = "bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.status = status or type(self).status
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    status, code, message = 400, "bad_request", "invalid request"


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "missing or invalid API key"


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "access denied"


class NotFound(ApiError):
    status, code, message = 404, "not_found", "object not found"


class MethodNotAllowed(ApiError):
    status, code, message = 405, "method_not_allowed", "method not allowed"


class Conflict(ApiError):
    status, code, message = 409, "conflict", "conflict with the object's state"


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "request body too large"


class Unprocessable(ApiError):
    status, code, message = 422, "unprocessable", "request cannot be processed"


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "too many requests"


class UpstreamError(ApiError):
    status, code, message = 502, "upstream_error", "upstream refused the request"


class Busy(ApiError):
    """The store could not do the work now (a deadlock broken by the database, a lock or a
    connection not had in time): nothing was done, and the same request may be sent again."""

    status, code, message = 503, "temporarily_unavailable", "busy: nothing was done, retry"


class TooManyStreams(ApiError):
    """No place for another event stream now (core.events.StreamPlaces): every open one is
    still read by its client."""

    status, code = 503, "too_many_streams"


class InternalError(ApiError):
    status, code, message = 500, "internal_error", "internal error"
