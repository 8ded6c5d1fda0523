"""The API error type of the foreign freefin server and its JSON envelope."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered as ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.close = close

    def body(self) -> dict[str, dict[str, str]]:
        """Return the JSON error envelope."""
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str) -> ApiError:
    """Return a 400 ``bad_request`` error."""
    return ApiError(400, "bad_request", message)


def not_found(code: str, message: str) -> ApiError:
    """Return a 404 error with the given code."""
    return ApiError(404, code, message)
