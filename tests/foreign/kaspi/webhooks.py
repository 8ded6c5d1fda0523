"""Webhook endpoints, signed background delivery with retries, and the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from .common import invalid, need_object, new_id, now_iso, paginate, to_json
from .invoices import Reply
from .store import Ctx, Store

ATTEMPTS = 4
TIMEOUT = 5.0
PUBLIC_KEYS = ("id", "url", "events", "created_at")


def sign(secret: str, body: bytes) -> str:
    """Lower-hex HMAC-SHA256 of the raw body keyed by the signing secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST body to url and return the HTTP status (raises OSError on failure)."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=TIMEOUT)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Dispatcher:
    """Sends events from a thread pool; failures retry after 1, 2 and 4 seconds."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kaspi-webhook")

    def emit(self, merchant_id: str, event_type: str, obj: dict[str, Any]) -> None:
        """Queue one delivery per subscribed endpoint of the merchant."""
        event = {"id": new_id(), "type": event_type, "created": now_iso(), "data": {"object": obj}}
        with self.store.lock:
            for hook in self.store.webhooks.values():
                subscribed = event_type in hook["events"] or "*" in hook["events"]
                if hook["merchant_id"] == merchant_id and subscribed:
                    self.deliver(hook, event)

    def deliver(self, hook: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """Record a delivery of event to hook and start sending it."""
        store = self.store
        delivery = {
            "id": new_id(),
            "merchant_id": hook["merchant_id"],
            "webhook_id": hook["id"],
            "event_id": event["id"],
            "type": event["type"],
            "status": "pending",
            "attempts": 0,
            "last_status_code": None,
            "created_at": now_iso(),
            "body": to_json(event),
        }
        with store.lock:
            store.deliveries[delivery["id"]] = delivery
            delivery["job_id"] = store.add_job(
                hook["merchant_id"], "webhook.delivery", delivery["id"]
            )["id"]
        self.submit(delivery["id"], 1, ATTEMPTS)
        return delivery

    def submit(self, delivery_id: str, attempt: int, budget: int) -> None:
        """Run attempt number ``attempt`` (of ``budget``) on the pool."""
        with self.store.lock:
            if self.store.closed:
                return
            self.pool.submit(self._attempt, delivery_id, attempt, budget)

    def _attempt(self, delivery_id: str, attempt: int, budget: int) -> None:
        store = self.store
        try:
            with store.lock:
                delivery = store.deliveries[delivery_id]
                hook = store.webhooks[delivery["webhook_id"]]
                body, url, secret = delivery["body"], hook["url"], hook["secret"]
            if store.bug("webhook_bad_signature"):
                secret = secret[::-1]
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "ArzanPay-Webhooks/1.0",
                "X-Webhook-Id": delivery["event_id"],
                "X-Webhook-Signature": sign(secret, body),
            }
            try:
                code: int | None = post(url, body, headers)
            except Exception:  # connection refused, timeout, TLS, bad URL ...
                code = None
            ok = code is not None and 200 <= code < 300
            with store.lock:
                delivery["attempts"] += 1
                delivery["last_status_code"] = code
                retry = not ok and attempt < budget
                delivery["status"] = "delivered" if ok else ("pending" if retry else "failed")
                job_status = {"delivered": "succeeded", "pending": "retrying", "failed": "dead"}
                store.update_job(
                    delivery["job_id"], job_status[delivery["status"]], delivery["attempts"]
                )
                if delivery["status"] == "failed" and store.bug("dead_letter_dropped"):
                    store.jobs.pop(delivery["job_id"], None)
            if retry:
                delay = 2.0 ** (attempt - 1)
                store.later(delay, lambda: self.submit(delivery_id, attempt + 1, budget))
        except Exception:  # never let a background failure escape
            pass

    def close(self) -> None:
        """Stop accepting work; in-flight sends finish within the timeout."""
        self.pool.shutdown(wait=False, cancel_futures=True)


def _dispatcher(ctx: Ctx) -> Dispatcher:
    dispatcher = ctx.store.dispatcher
    assert isinstance(dispatcher, Dispatcher)
    return dispatcher


def create_webhook(ctx: Ctx) -> Reply:
    """POST /v1/webhooks {url, events}: the signing secret is shown only here."""
    body = need_object(ctx.body())
    url = body.get("url")
    if not isinstance(url, str) or len(url) > 2048:
        raise invalid("url", "must be an http(s) URL")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port
    except ValueError:
        valid = False
    if not valid or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise invalid("url", "must be an http(s) URL")
    events = body.get("events")
    if not isinstance(events, list) or not events or len(events) > 50:
        raise invalid("events", "must be a non-empty array of event names")
    if not all(isinstance(e, str) and 0 < len(e) <= 100 for e in events):
        raise invalid("events", "must be a non-empty array of event names")
    hook = {
        "id": new_id(),
        "merchant_id": ctx.mid,
        "url": url,
        "events": list(dict.fromkeys(events)),
        "secret": f"whsec_{secrets.token_hex(24)}",
        "seq": ctx.store.next_seq(),
        "created_at": now_iso(),
    }
    with ctx.store.lock:
        ctx.store.webhooks[hook["id"]] = hook
        ctx.store.audit(hook["merchant_id"], "webhook.created", "webhook", hook["id"])
    view = {key: hook[key] for key in PUBLIC_KEYS}
    view["signing_secret"] = hook["secret"]
    return 201, view


def list_webhooks(ctx: Ctx) -> Reply:
    """GET /v1/webhooks (without secrets)."""
    with ctx.store.lock:
        rows = [h for h in ctx.store.webhooks.values() if h["merchant_id"] == ctx.mid]
        data = [{key: h[key] for key in PUBLIC_KEYS} for h in reversed(rows)]
    return 200, paginate(data, ctx.request.args, ctx.store.bug("page_size_ignored"))


def test_webhook(ctx: Ctx, id: str) -> Reply:
    """POST /v1/webhooks/{id}/test: queue a webhook.test event; 202 with no body, as the seed
    documents it."""
    store = ctx.store
    with store.lock:
        hook = store.own(store.webhooks, ctx.mid, id)
        if store.bug("webhook_test_silent"):
            return 202, None
        obj = {"webhook_id": hook["id"], "message": "Test webhook from Arzan Pay"}
        event = {
            "id": new_id(),
            "type": "webhook.test",
            "created": now_iso(),
            "data": {"object": obj},
        }
        delivery = _dispatcher(ctx).deliver(hook, event)
        if store.bug("webhook_test_unlogged"):
            delivery["merchant_id"] = ""  # sent, but out of the merchant's delivery log
    return 202, None


def _delivery_view(d: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "webhook_id", "event_id", "type", "status", "attempts", "last_status_code")
    return {**{key: d[key] for key in keys}, "created_at": d["created_at"]}


def list_deliveries(ctx: Ctx) -> Reply:
    """GET /v1/webhook-deliveries, newest first (filter webhook_id)."""
    wanted = ctx.request.args.get("webhook_id")
    with ctx.store.lock:
        rows = [d for d in ctx.store.deliveries.values() if d["merchant_id"] == ctx.mid]
        data = [_delivery_view(d) for d in reversed(rows) if wanted in (None, d["webhook_id"])]
    return 200, paginate(data, ctx.request.args, ctx.store.bug("page_size_ignored"))


def retry_delivery(ctx: Ctx, id: str) -> Reply:
    """POST /v1/webhook-deliveries/{id}/retry: one more attempt now."""
    store = ctx.store
    with store.lock:
        delivery = store.own(store.deliveries, ctx.mid, id)
        if store.bug("delivery_retry_ignored"):
            return 202, {"delivery_id": id}
        delivery["status"] = "pending"
        store.update_job(delivery["job_id"], "queued")
    _dispatcher(ctx).submit(id, 1, 1)
    return 202, {"delivery_id": id}
