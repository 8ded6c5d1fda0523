"""Routes of the foreign freefin server: the public API, the SSE stream, the test endpoints."""

from __future__ import annotations

import html
import queue
import re
from typing import Any

from .directory import Terminal, bank_items
from .errors import ApiError, not_found
from .handler import BaseHandler, fingerprint
from .validate import (
    PAYMENT_TEST_STATUSES,
    PAYOUT_TEST_STATUSES,
    payment_input,
    payout_input,
    plan_input,
    refund_input,
    status_input,
)

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ID = "([^/]+)"
ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = tuple(
    (re.compile(pattern), methods)
    for pattern, methods in (
        ("/api/v1/public/payments", {"POST": "create_payment"}),
        (f"/api/v1/public/payments/{ID}", {"GET": "get_payment"}),
        (f"/api/v1/public/payments/{ID}/cancel", {"POST": "cancel_payment"}),
        (f"/api/v1/public/payments/{ID}/refund", {"POST": "refund_payment"}),
        ("/api/v1/public/payouts", {"POST": "create_payout"}),
        (f"/api/v1/public/payouts/{ID}", {"GET": "get_payout"}),
        ("/api/v1/public/banks/sbp", {"GET": "list_banks"}),
        ("/api/v1/public/events", {"GET": "stream_events"}),
        (f"/testing/v1/payments/{ID}/status", {"POST": "test_payment_status"}),
        (f"/testing/v1/payouts/{ID}/status", {"POST": "test_payout_status"}),
        ("/testing/v1/plans", {"POST": "test_plan"}),
        (f"/checkout/{ID}", {"GET": "checkout"}),
    )
)
Answer = tuple[int, Any, Any]


def _object_id(raw: str, code: str) -> str:
    """Return the canonical (lower-case) UUID of a path id; 404 ``code`` otherwise."""
    if not UUID_RE.fullmatch(raw):
        raise not_found(code, "no such object")
    return raw.lower()


def _legacy_order_prefix(order_id: str) -> int:
    """First byte of an ASCII order id (only reached with ``crash_on_odd_input``)."""
    return order_id.encode("ascii")[0]


class Handler(BaseHandler):
    """The request handler of the foreign freefin server."""

    def route(self, method: str, path: str) -> tuple[int, Any, dict[str, str] | None, Any]:
        """Find the route of ``path`` (404) and its method (405) and answer the request."""
        for pattern, methods in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            name = methods.get(method)
            if name is None:
                allow = {"Allow": ", ".join(methods)}
                raise ApiError(405, "method_not_allowed", f"use {allow['Allow']}", headers=allow)
            status, body, after = getattr(self, name)(*match.groups())
            return status, body, None, after
        raise ApiError(404, "not_found", "no such route")

    def api(self) -> Terminal:
        """Authenticate, rate-limit and verify the signature of an API request."""
        terminal = self.authenticate()
        self.rate_limit(terminal)
        self.check_signature(terminal)
        return terminal

    @property
    def bugs(self) -> frozenset[str]:
        """The bugs switched on in this server."""
        return self.server.bugs

    # -- payments --------------------------------------------------------------------------

    def create_payment(self) -> Answer:
        """POST /api/v1/public/payments."""
        terminal = self.api()
        key = self.idempotency_key()
        body = self.json_body(True)
        if "crash_on_odd_input" in self.bugs and isinstance(body, dict):
            order_id = body.get("order_id")
            if isinstance(order_id, str):
                _legacy_order_prefix(order_id)
        data = payment_input(body, "zero_amount_accepted" in self.bugs)
        store = self.server.store
        return store.create_payment(terminal, data, key, fingerprint(body), self.server.base_url)

    def get_payment(self, raw_id: str) -> Answer:
        """GET /api/v1/public/payments/{id}."""
        terminal: Terminal | None
        if "auth_ignored_get" in self.bugs:
            try:
                terminal = self.authenticate()
            except ApiError:
                terminal = None
            if terminal is not None:
                self.rate_limit(terminal)
                self.check_signature(terminal)
        else:
            terminal = self.api()
        merchant = terminal.merchant.id if terminal is not None else None
        if "cross_merchant_read" in self.bugs:
            merchant = None
        pid = _object_id(raw_id, "payment_not_found")
        return 200, self.server.store.get_payment(pid, merchant), None

    def cancel_payment(self, raw_id: str) -> Answer:
        """POST /api/v1/public/payments/{id}/cancel (any body is ignored)."""
        terminal = self.api()
        pid = _object_id(raw_id, "payment_not_found")
        return 200, self.server.store.cancel_payment(pid, terminal.merchant.id), None

    def refund_payment(self, raw_id: str) -> Answer:
        """POST /api/v1/public/payments/{id}/refund."""
        terminal = self.api()
        key = self.idempotency_key()
        pid = _object_id(raw_id, "payment_not_found")
        body = self.json_body(False)
        data = refund_input(body)
        return self.server.store.refund_payment(terminal, pid, data, key, fingerprint(body))

    # -- payouts, banks, events ------------------------------------------------------------

    def create_payout(self) -> Answer:
        """POST /api/v1/public/payouts."""
        terminal = self.api()
        key = self.idempotency_key()
        body = self.json_body(True)
        data = payout_input(body)
        return self.server.store.create_payout(terminal, data, key, fingerprint(body))

    def get_payout(self, raw_id: str) -> Answer:
        """GET /api/v1/public/payouts/{id}."""
        terminal = self.api()
        oid = _object_id(raw_id, "payout_not_found")
        return 200, self.server.store.get_payout(oid, terminal.merchant.id), None

    def list_banks(self) -> Answer:
        """GET /api/v1/public/banks/sbp."""
        self.api()
        return 200, {"items": bank_items("bad_bank_ids" in self.bugs)}, None

    def stream_events(self) -> Answer:
        """GET /api/v1/public/events: the merchant's SSE stream (not rate limited)."""
        terminal = self.authenticate()
        self.check_signature(terminal)
        last = (self.headers.get("Last-Event-ID") or "").strip()
        last_id = int(last) if re.fullmatch(r"[0-9]{1,18}", last) else None
        bus, silent = self.server.bus, "sse_silent" in self.bugs
        subscriber, backlog = bus.subscribe(terminal.merchant.id, last_id)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(b": connected\n\n")
            for logged in [] if silent else backlog:
                self.wfile.write(logged.frame())
            while True:
                try:
                    event = subscriber.get(timeout=self.server.heartbeat)
                except queue.Empty:
                    self.wfile.write(b": ping\n\n")
                    continue
                if event is None:
                    break
                if not silent:
                    self.wfile.write(event.frame())
        except OSError:
            pass
        finally:
            bus.unsubscribe(terminal.merchant.id, subscriber)
        return 0, None, None

    # -- test endpoints (unauthenticated, not rate limited) --------------------------------

    def test_payment_status(self, raw_id: str) -> Answer:
        """POST /testing/v1/payments/{id}/status: move a payment now."""
        status, reason = status_input(self.json_body(True), PAYMENT_TEST_STATUSES)
        pid = _object_id(raw_id, "payment_not_found")
        return 200, self.server.store.move_payment(pid, status, reason), None

    def test_payout_status(self, raw_id: str) -> Answer:
        """POST /testing/v1/payouts/{id}/status: move a payout now."""
        status, reason = status_input(self.json_body(True), PAYOUT_TEST_STATUSES)
        oid = _object_id(raw_id, "payout_not_found")
        return 200, self.server.store.move_payout(oid, status, reason), None

    def test_plan(self) -> Answer:
        """POST /testing/v1/plans: plan the outcome of the next created payment or payout."""
        kind, status, reason, after_ms = plan_input(self.json_body(True))
        queued = self.server.store.add_plan(kind, status, reason, after_ms)
        plan = {"object": kind, "status": status, "reason": reason, "after_ms": after_ms}
        return 200, {"plan": plan, "queued": queued}, None

    def checkout(self, raw_id: str) -> Answer:
        """GET /checkout/{id}: a minimal payment page (the payment_url)."""
        payment = self.server.store.get_payment(_object_id(raw_id, "payment_not_found"), None)
        page = (
            f"<!doctype html><title>freefin checkout</title><p>Payment {payment['id']}: "
            f"{html.escape(str(payment['amount']))} {html.escape(payment['currency'])}, "
            f"{payment['status']}</p>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)
        return 0, None, None
