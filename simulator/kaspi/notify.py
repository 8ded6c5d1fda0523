"""Kaspi events: recorded with the state change, sent to every endpoint subscribed to them.

Webhook body ``{"id": "evt_…", "event": kind, "created_at", "data": {object}}``, signed per
endpoint: ``X-Arzan-Signature: sha256=<hex HMAC-SHA256(raw body, endpoint secret)>``.
Deliveries run in parallel, so a merchant's events get strictly increasing ``created_at``
(milliseconds): a receiver orders them by it, also the events of one change.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from simulator.core import codec, events, webhooks
from simulator.core.clock import iso
from simulator.core.runtime import Runtime
from simulator.core.signing import sign
from simulator.core.store import Tx
from simulator.kaspi import rules
from simulator.kaspi.models import StoredWebhookEndpoint

API = "kaspi"
ENDPOINT_KIND = "kp_webhook"
SIGNATURE_HEADER = "X-Arzan-Signature"
EVENTS = (
    "invoice.created",
    "invoice.status_changed",
    "invoice.paid",
    "invoice.canceled",
    "invoice.refunded",
    "qr.created",
    "qr.status_changed",
    "qr.paid",
    "qr.canceled",
    "qr.refunded",
    "subscription.created",
    "subscription.billed",
    "subscription.paid",
    "subscription.payment_failed",
    "webhook.test",
)
ALL = "*"
# "invoice.*" and the like: every event of one object
GROUPS = tuple(sorted({kind.split(".")[0] + ".*" for kind in EVENTS}))


def _event_time(rt: Runtime, tx: Tx, merchant_id: str) -> float:
    """Now, but at least a millisecond after the merchant's last event (the middle of a
    millisecond, so rendering it never rounds down onto the previous one)."""
    tx.lock(f"kaspi.events.{merchant_id}")  # the merchant's events are written one at a time
    last = events.last_created(tx, API, merchant_id)
    now_ms = int(rt.clock.now() * 1000)
    if last is not None:
        now_ms = max(now_ms, int(last * 1000) + 1)
    return (now_ms + 0.5) / 1000


def subscribed(endpoint: StoredWebhookEndpoint, kind: str) -> bool:
    wanted = endpoint["events"]
    return ALL in wanted or kind in wanted or kind.split(".")[0] + ".*" in wanted


def emit(
    rt: Runtime,
    tx: Tx,
    merchant_id: str,
    kinds: list[str],
    payload: dict[str, Any],
    endpoint: StoredWebhookEndpoint | None = None,
) -> list[str]:
    """Record ``kinds`` in order and queue a signed delivery to each subscribed endpoint
    (only to ``endpoint`` when given: test events); return the delivery ids."""
    targets = (
        [endpoint]
        if endpoint
        else [
            cast(StoredWebhookEndpoint, e)
            for e in tx.list(ENDPOINT_KIND, merchant_id, limit=1000)
            if e["is_active"]
        ]
    )
    queued = []
    in_force = rules.of(rt)
    kinds = in_force.event_kinds(kinds)
    first_id: str | None = None
    for kind in kinds:
        now = _event_time(rt, tx, merchant_id)  # the event's time; its deliveries are due now
        event_id = in_force.event_id("evt_" + uuid.uuid4().hex, first_id)
        first_id = first_id or event_id
        body = {"id": event_id, "event": kind, "created_at": iso(now), "data": payload}
        events.record(
            tx, rt.bus, event_id=event_id, api=API, owner=merchant_id, kind=kind, body=body, now=now
        )
        raw = codec.dumpb(body)
        for target in targets:
            if endpoint is None and not subscribed(target, kind):
                continue
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "arzan-webhooks/1",
                "X-Arzan-Event": kind,
                "X-Arzan-Event-Id": event_id,
                "X-Arzan-Webhook-Id": target["id"],
            }
            secret = in_force.webhook_secret(target["_secret"])
            if secret is not None:
                headers[SIGNATURE_HEADER] = sign(secret, raw)
            queued.append(
                webhooks.enqueue(
                    tx,
                    api=API,
                    owner=merchant_id,
                    event_id=event_id,
                    kind=kind,
                    url=target["url"],
                    headers=headers,
                    body=raw,
                    now=min(now, rt.clock.now()),
                    endpoint_id=target["id"],
                )
            )
    return queued
