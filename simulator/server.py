"""The gunicorn worker the simulator runs in: gthread, with HTTP-level errors in the API's envelope.

gunicorn answers a request it cannot parse (a malformed Content-Length, a bad request line,
oversized headers) itself, with an HTML page, before the application sees it. This worker
renders those answers through the application's own envelopes instead, chosen by the request's
path when it was read, so a client of either API gets the error body it was promised.
"""

from __future__ import annotations

import threading
from typing import Any

from gunicorn import util
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
        super().init_process()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        parsed = req if req is not None else getattr(exc, "req", None)
        _local.app, _local.path = self.wsgi, getattr(parsed, "path", None) or "/"
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            _local.app = _local.path = None


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
