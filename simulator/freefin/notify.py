"""freefin events: one body for SSE and webhooks, signed with the terminal's secret."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from simulator.core import codec, events, webhooks
from simulator.core.clock import iso
from simulator.core.runtime import Runtime
from simulator.core.signing import sign
from simulator.core.store import Tx
from simulator.freefin import rules
from simulator.freefin.terminals import Terminal

API = "freefin"
SIGNATURE_HEADER = "X-Freefin-Signature"


def endpoint_key(terminal_id: str) -> str:
    return f"freefin.endpoint.{terminal_id}"


def emit(
    rt: Runtime,
    tx: Tx,
    terminal: Terminal,
    kinds: list[str],
    payload: Mapping[str, Any],
    webhook_url: str | None,
) -> None:
    """Record events ``kinds`` (in order) for the merchant and queue their webhooks."""
    in_force = rules.of(rt)
    kinds = in_force.event_kinds(kinds)
    url = webhook_url or tx.get_meta(endpoint_key(terminal.id)) or terminal.webhook_url
    first_id: str | None = None
    for kind in kinds:
        now = rt.clock.now()
        event_id = in_force.event_id("evt_" + uuid.uuid4().hex, first_id)
        first_id = first_id or event_id
        body = {"id": event_id, "kind": kind, "created_at": iso(now), "payload": payload}
        events.record(
            tx,
            rt.bus,
            event_id=event_id,
            api=API,
            owner=terminal.merchant_id,
            kind=kind,
            body=body,
            now=now,
        )
        if not url:
            continue
        raw = codec.dumpb(body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "paysim-webhooks/1",
            "X-Freefin-Event-Id": event_id,
            "X-Freefin-Event": kind,
        }
        secret = in_force.webhook_secret(terminal.signing_secret)
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, raw)
        webhooks.enqueue(
            tx,
            api=API,
            owner=terminal.merchant_id,
            event_id=event_id,
            kind=kind,
            url=url,
            headers=headers,
            body=raw,
            now=now,
        )
