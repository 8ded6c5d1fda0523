"""Webhook endpoints, their delivery log and the jobs view (queued, retrying, dead letter).

Deliveries are the core outbox (``core.webhooks``); this module only names them the Kaspi way.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any, cast
from urllib.parse import urlsplit

from simulator.core import webhooks
from simulator.core.clock import iso
from simulator.core.errors import Conflict, NotFound
from simulator.core.runtime import Runtime
from simulator.kaspi import audit, paging
from simulator.kaspi.merchants import Merchant
from simulator.kaspi.models import Attempt, Delivery, StoredWebhookEndpoint
from simulator.kaspi.money import validation_error
from simulator.kaspi.notify import ALL, API, ENDPOINT_KIND, EVENTS, GROUPS, emit

MAX_URL = 2048
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
HOST_RE = re.compile(rf"^([0-9a-f:.]+|{_LABEL}(\.{_LABEL})*)$")  # hostname: lower-cased
MAX_ENDPOINTS = 20
DELIVERY_STATUSES = ("queued", "sending", "retrying", "delivered", "dead")
JOB_STATES = {
    "queued": "queued",
    "sending": "running",
    "retrying": "retrying",
    "dead": "dead_letter",
}


def validate(body: dict[str, Any]) -> tuple[str, list[str]]:
    """(url, events) of a new endpoint: an absolute http(s) URL and known event names."""
    url, names = body.get("url"), body.get("events")
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise validation_error("url", f"must be a string of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise validation_error("url", "must be an absolute http(s) URL") from None
    # printable ASCII only: an IRI must be sent percent-encoded (and its host in punycode)
    if (
        parts.scheme not in ("http", "https")
        or not host
        or not HOST_RE.fullmatch(host)
        or not (url.isascii() and url.isprintable())
        or " " in url
    ):
        raise validation_error("url", "must be an absolute http(s) URL")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise validation_error("events", "must be a non-empty list of event names")
    unknown = sorted({n for n in names if n not in EVENTS and n not in GROUPS and n != ALL})
    if unknown:
        raise validation_error("events", f"unknown events: {', '.join(unknown)}")
    return url, list(dict.fromkeys(names))


def create(rt: Runtime, merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    """A new endpoint; the response is the only one that shows its signing secret."""
    url, names = validate(body)
    endpoint_id = "wh_" + uuid.uuid4().hex[:16]
    secret = "whsec_" + secrets.token_hex(24)
    doc: StoredWebhookEndpoint = {
        "id": endpoint_id,
        "url": url,
        "events": names,
        "is_active": True,
        "secret_hint": "…" + secret[-4:],
        "created_at": iso(rt.clock.now()),
        "_secret": secret,
        "_merchant": merchant.id,
    }
    with rt.store.tx() as tx:
        if tx.count(ENDPOINT_KIND, merchant.id) >= MAX_ENDPOINTS:
            raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints", code="too_many_endpoints")
        tx.insert(ENDPOINT_KIND, endpoint_id, merchant.id, doc)
        audit.record(
            rt,
            tx,
            merchant.id,
            merchant.actor,
            "webhook.create",
            "webhook",
            endpoint_id,
            {"url": url, "events": names},
        )
    return {**paging.strip(doc), "secret": secret}


def listing(rt: Runtime, merchant: Merchant, args: dict[str, str]) -> dict[str, Any]:
    return paging.page(rt, ENDPOINT_KIND, merchant.id, args, [], [])


def send_test(rt: Runtime, merchant: Merchant, endpoint_id: str) -> dict[str, Any]:
    """Queue a signed ``webhook.test`` event to this endpoint alone."""
    with rt.store.tx() as tx:
        doc = cast(StoredWebhookEndpoint | None, tx.get(ENDPOINT_KIND, endpoint_id))
        if doc is None or doc["_merchant"] != merchant.id:
            raise NotFound(f"webhook {endpoint_id} not found", code="not_found")
        payload = {"webhook_id": endpoint_id, "message": "Arzan Pay test event"}
        [delivery_id] = emit(rt, tx, merchant.id, ["webhook.test"], payload, endpoint=doc)
        audit.record(
            rt,
            tx,
            merchant.id,
            merchant.actor,
            "webhook.test",
            "webhook",
            endpoint_id,
            {"delivery_id": delivery_id},
        )
    return {"status": "queued", "webhook_id": endpoint_id, "delivery_id": delivery_id}


def _delivery(row: webhooks.DeliveryRow) -> Delivery:
    return {
        "id": row["id"],
        "webhook_id": row["endpoint_id"],
        "event_id": row["event_id"],
        "event": row["kind"],
        "url": row["url"],
        "status": row["status"],
        "attempts": row["attempts"],
        "response_code": row["last_code"],
        "latency_ms": row["last_latency_ms"],
        "last_error": row["last_error"],
        "next_retry_at": row["next_attempt_at"],
        "created_at": row["created_at"],
        "history": cast(list[Attempt], row["history"]),
    }


def deliveries(rt: Runtime, merchant: Merchant, args: dict[str, str]) -> dict[str, Any]:
    """Every delivery of the merchant, newest first, by ``status`` and ``webhook_id``."""
    status = args.get("status") or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise validation_error("status", f"must be one of {', '.join(DELIVERY_STATUSES)}")
    page, size = paging.bounds(args)
    scope = {
        "api": API,
        "owner": merchant.id,
        "status": status,
        "endpoint_id": args.get("webhook_id") or None,
    }
    rows = webhooks.list_deliveries(rt.store, **scope, limit=size, offset=(page - 1) * size)
    total = webhooks.count_deliveries(rt.store, **scope)
    return paging.envelope([_delivery(r) for r in rows], page, size, total)


def retry(rt: Runtime, merchant: Merchant, delivery_id: str) -> dict[str, Any]:
    """Another attempt at once (dead letters too); 409 while an attempt is in flight."""
    row = webhooks.get_delivery(rt.store, delivery_id)
    if row is None or row["api"] != API or row["owner"] != merchant.id:
        raise NotFound(f"delivery {delivery_id} not found", code="not_found")
    retries = rt.defects.rules(webhooks.DeliveryRules).retries_on_request()
    with rt.store.tx() as tx:
        if retries and not webhooks.retry_now(tx, delivery_id, rt.clock.now()):
            raise Conflict("an attempt of this delivery is in flight", code="delivery_in_flight")
        audit.record(
            rt,
            tx,
            merchant.id,
            merchant.actor,
            "webhook_delivery.retry",
            "webhook_delivery",
            delivery_id,
        )
    row = webhooks.get_delivery(rt.store, delivery_id)
    assert row is not None
    return {"status": "queued", "delivery": _delivery(row)}


def jobs(rt: Runtime, merchant: Merchant, args: dict[str, str]) -> dict[str, Any]:
    """Pending delivery work as jobs: queued, running, retrying and dead_letter."""
    by_state = {v: k for k, v in JOB_STATES.items()}
    state = args.get("state") or None
    if state is not None and state not in by_state:
        raise validation_error("state", f"must be one of {', '.join(by_state)}")
    statuses = [by_state[state]] if state else list(JOB_STATES)
    page, size = paging.bounds(args)
    rows = webhooks.list_deliveries(
        rt.store, api=API, owner=merchant.id, status=statuses, limit=size, offset=(page - 1) * size
    )
    counts = {
        JOB_STATES[s]: webhooks.count_deliveries(rt.store, api=API, owner=merchant.id, status=s)
        for s in JOB_STATES
    }
    total = sum(counts[JOB_STATES[s]] for s in statuses)
    items = [
        {
            "id": "job_" + r["id"][4:],
            "type": "webhook_delivery",
            "state": JOB_STATES[r["status"]],
            "attempts": r["attempts"],
            "max_attempts": rt.webhook_config.max_attempts,
            "next_run_at": r["next_attempt_at"],
            "last_error": r["last_error"],
            "last_response_code": r["last_code"],
            "created_at": r["created_at"],
            "delivery_id": r["id"],
            "webhook_id": r["endpoint_id"],
            "event": r["kind"],
        }
        for r in rows
    ]
    return {**paging.envelope(items, page, size, total), "counts": counts}
