"""The events the grader sends to a webhook handler: each API's format and the objects its
events carry are the API's facts (``harness/apis``); here they are put together."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from harness.apis import FACTS
from harness.apis.facts import WebhookFormat, iso


def formats() -> dict[str, WebhookFormat]:
    """Each API's webhook format, as the API states it."""
    return {api: facts.webhooks() for api, facts in FACTS.items()}


def main_kind(fmt: WebhookFormat) -> str:
    """The kind sent where any valid event will do: the API's first (payment.created,
    invoice.created)."""
    return fmt.kinds[0]


def new_object_id(fmt: WebhookFormat, kind: str) -> str:
    """A new id of the object an event of ``kind`` carries, in its API's form."""
    return FACTS[fmt.api].new_id(kind)


def event(
    fmt: WebhookFormat, kind: str, object_id: str, at: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    make = FACTS[fmt.api].event_object
    return {
        "id": "evt_" + uuid.uuid4().hex,
        fmt.kind_field: kind,
        "created_at": iso(at),
        fmt.object_field: make(kind, object_id, at),
        **extra,
    }
