"""WSGI application: routing, body limits, auth, rate limiting, errors, and start()."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import invoices, misc, refunds, testing, webhooks
from .common import ApiError, to_json
from .store import Ctx, Store

PREFIX = "/pay/api"
MAX_BODY = 64 * 1024
POLL = 0.05
Handler = Callable[..., tuple[int, Any]]

ROUTES: list[tuple[str, str, Handler]] = [
    ("/organizations/verify", "POST", misc.verify),
    ("/v1/me", "GET", misc.me),
    ("/v1/invoices", "GET", invoices.list_invoices),
    ("/v1/invoices", "POST", invoices.create_invoice),
    ("/v1/invoices/<id>", "GET", invoices.get_invoice),
    ("/v1/invoices/<id>/cancel", "POST", invoices.cancel_invoice),
    ("/v1/invoices/status/check", "POST", invoices.check_statuses),
    ("/v1/qr", "POST", refunds.create_qr),
    ("/v1/invoices/<id>/refund", "POST", refunds.refund_invoice),
    ("/v1/refunds", "GET", refunds.list_refunds),
    ("/v1/refunds", "POST", refunds.create_refund),
    ("/v1/webhooks", "GET", webhooks.list_webhooks),
    ("/v1/webhooks", "POST", webhooks.create_webhook),
    ("/v1/webhooks/<id>/test", "POST", webhooks.test_webhook),
    ("/v1/catalog", "GET", misc.list_catalog),
    ("/v1/catalog", "POST", misc.create_catalog),
    ("/v1/catalog/units", "GET", misc.list_units),
    ("/v1/subscriptions", "GET", misc.list_subscriptions),
    ("/v1/subscriptions", "POST", misc.create_subscription),
    ("/v1/kaspi/session", "GET", misc.kaspi_session),
    ("/v1/audit-logs", "GET", misc.list_audit_logs),
    ("/v1/webhook-deliveries", "GET", webhooks.list_deliveries),
    ("/v1/webhook-deliveries/<id>/retry", "POST", webhooks.retry_delivery),
    ("/v1/jobs", "GET", misc.list_jobs),
    ("/v1/sandbox/invoices/<id>/simulate", "POST", invoices.simulate),
]
TEST_ROUTES: list[tuple[str, str, Handler]] = [
    ("/testing/invoices/<id>/status", "POST", testing.move_invoice),
    ("/testing/plans", "POST", testing.queue_plan),
    ("/testing/counts", "GET", testing.counts),
]


def build_map() -> tuple[Map, dict[str, Handler]]:
    """Werkzeug URL map (API routes under PREFIX) and endpoint name -> handler."""
    rules, handlers = [], {}
    for path, method, func in ROUTES + TEST_ROUTES:
        public = path.startswith("/testing/")
        name = f"{'public' if public else 'api'}:{method}:{path}"
        handlers[name] = func
        rules.append(Rule(path if public else PREFIX + path, methods=[method], endpoint=name))
    return Map(rules, merge_slashes=False), handlers


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(to_json(payload), status=status, headers=headers, mimetype="application/json")


class KaspiApp:
    """The WSGI callable; owns the store and the webhook dispatcher."""

    def __init__(self, bugs: Iterable[str] = ()) -> None:
        self.store = Store(bugs)
        self.store.dispatcher = webhooks.Dispatcher(self.store)
        self.url_map, self.handlers = build_map()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except ApiError as exc:
            response = json_response(exc.status, exc.payload(), exc.headers)
        except Exception:
            if self.store.bug("crash_on_odd_input"):
                text = traceback.format_exc()
                response = Response(text, status=500, mimetype="text/plain")
            else:
                err = ApiError(500, "INTERNAL_ERROR", "unexpected server error")
                response = json_response(500, err.payload())
        return response(environ, start_response)

    def _read_body(self, request: Request) -> bytes:
        too_large = ApiError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"request body exceeds {MAX_BODY} bytes",
            {"limit": MAX_BODY},
            {"Connection": "close"},
        )
        if (request.content_length or 0) > MAX_BODY:
            raise too_large
        raw = request.stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise too_large
        return raw

    def _match(self, request: Request) -> tuple[str, dict[str, Any]]:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            name, args = adapter.match()
        except (NotFound, RequestRedirect):
            raise ApiError(404, "NOT_FOUND", "no such route", {"path": request.path}) from None
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"{request.method} is not allowed here",
                {"allowed": sorted(exc.valid_methods or [])},
                {"Allow": allowed},
            ) from None
        return str(name), args

    def _authenticate(self, request: Request, name: str) -> Any:
        key = request.headers.get("X-API-Key", "")
        merchant = self.store.merchants.get(key)
        if merchant is None:
            if self.store.bug("auth_ignored_get") and name == "api:GET:/v1/invoices/<id>":
                return None
            raise ApiError(401, "UNAUTHORIZED", "missing or unknown X-API-Key")
        if not self.store.take_token(merchant):
            headers = {} if self.store.bug("no_retry_after") else {"Retry-After": "1"}
            raise ApiError(429, "RATE_LIMITED", "too many requests", {"retry_after": 1}, headers)
        return merchant

    def dispatch(self, request: Request) -> Response:
        """Route, check size, authenticate, rate limit and run the handler."""
        raw = self._read_body(request)
        name, args = self._match(request)
        merchant = None
        if name.startswith("api:"):
            merchant = self._authenticate(request, name)
        status, payload = self.handlers[name](Ctx(self.store, request, merchant, raw), **args)
        if payload is None:  # the seed documents no body for this answer
            return Response(status=status)
        return json_response(status, payload)


class _QuietHandler(WSGIRequestHandler):
    """No access log; never sends two Connection headers."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Silence the werkzeug access log."""

    def run_wsgi(self) -> None:
        """Reset the per-request Connection header flag."""
        self._connection_sent = False
        super().run_wsgi()

    def send_header(self, keyword: str, value: str) -> None:
        """Drop a repeated Connection header."""
        if keyword.lower() == "connection":
            if getattr(self, "_connection_sent", False):
                return
            self._connection_sent = True
        super().send_header(keyword, value)


def serve(bugs: Iterable[str] = (), port: int = 0) -> tuple[BaseWSGIServer, str]:
    """Bind 127.0.0.1 (not yet serving); shutting the server down also stops the app."""
    app = KaspiApp(bugs)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    original_shutdown = server.shutdown

    def shutdown() -> None:
        original_shutdown()
        server.server_close()
        app.store.close()

    server.shutdown = shutdown  # type: ignore[method-assign]
    return server, f"http://127.0.0.1:{server.server_port}"


def start(bugs: Iterable[str] = (), port: int = 0) -> tuple[BaseWSGIServer, str]:
    """Serve in a daemon thread; returns (server, base URL without the API prefix)."""
    server, base = serve(bugs, port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL}, name="kaspi", daemon=True
    )
    closing = server.shutdown

    def shutdown() -> None:
        closing()
        thread.join(timeout=5)

    server.shutdown = shutdown  # type: ignore[method-assign]
    thread.start()
    return server, base
