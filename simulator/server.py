"""The gunicorn worker the simulator runs in: gthread, with HTTP-level errors in the API's envelope.

gunicorn answers a request it cannot parse (a malformed Content-Length, a bad request line,
oversized headers) itself, with an HTML page, before the application sees it. This worker
renders those answers through the application's own envelopes instead, chosen by the request's
path: the parsed one, else the path at the start of what was read (a request line too long or
a head too large never becomes a request), so a client of either API gets the error body it was
promised.

A body refused for its size (413) is left unread, and gunicorn closes such a connection: the
answer says ``Connection: close`` so the client does not send its next request into it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn import util
from gunicorn.http import message
from gunicorn.workers.gthread import ThreadWorker

from simulator.core.errors import ApiError

_local = threading.local()
_CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
}


class EnvelopeWorker(ThreadWorker):
    """gthread, whose own error answers carry the simulated API's error envelope."""

    def init_process(self) -> None:
        util.write_error = _write_error  # gunicorn's handle_error writes through this
        message.Request.parse = _remembering(message.Request.parse)
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.flask: Any = getattr(self, "wsgi")  # noqa: B009 (gunicorn sets it untyped)
        self.wsgi = _closing_after_413(self.flask)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        parsed = req if req is not None else getattr(exc, "req", None)
        path = getattr(parsed, "path", None) or _path_of(getattr(_local, "head", b""))
        _local.app, _local.path = self.flask, path or "/"
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            _local.app = _local.path = None


def _remembering(parse: Callable[..., Any]) -> Callable[..., Any]:
    """gunicorn's parse of a request, keeping the first bytes read for handle_error."""

    def parsed(self: Any, unreader: Any) -> Any:
        _local.head = b""
        first = unreader.read()
        if first:
            _local.head = bytes(first[:1024])
            unreader.unread(first)
        return parse(self, unreader)

    return parsed


def _path_of(head: bytes) -> str | None:
    """The path of a request line at the start of ``head`` (``GET /api/v1/x?q HTTP/1.1``)."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) < 2 or not parts[1].startswith(b"/"):
        return None
    return parts[1].split(b"?", 1)[0].decode("latin-1")


def _closing_after_413(app: Any) -> Any:
    """The WSGI app, whose 413 answers close the connection and say so."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            if status.startswith("413"):
                owner = getattr(start_response, "__self__", None)  # gunicorn's Response
                if owner is not None and hasattr(owner, "force_close"):
                    owner.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


def render(app: Any, path: str, status: int, message: str) -> bytes:
    """The raw HTTP answer of ``status`` in the envelope of the API that ``path`` belongs to."""
    error = ApiError(
        message or "bad request", code=_CODES.get(status, "bad_request"), status=status
    )
    with app.test_request_context(path):
        resp = app.extensions["paysim.envelopes"].render(path, error)
    body = resp.get_data()
    head = (
        f"HTTP/1.1 {status} {resp.status.split(' ', 1)[-1]}\r\nConnection: close\r\n"
        f"Content-Type: {resp.content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    app = getattr(_local, "app", None)
    if app is None:
        return _html_error(sock, status_int, reason, mesg)
    try:
        raw = render(app, _local.path or "/", status_int, mesg)
    except Exception:  # never worse than gunicorn's own answer
        return _html_error(sock, status_int, reason, mesg)
    util.write_nonblock(sock, raw)
    return None


_html_error = util.write_error
