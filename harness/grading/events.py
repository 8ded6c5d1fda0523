"""The events each API sends to a webhook handler, as its supplement describes them
(``events.webhooks``): the body, the headers, the objects events carry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.apis import FACTS
from harness.apis.facts import WebhookFormat


def formats() -> dict[str, WebhookFormat]:
    """Each API's webhook format, as the API states it."""
    return {api: facts.webhooks() for api, facts in FACTS.items()}


# -- the objects events carry -----------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


FREEFIN_STATUS = {
    "created": "pending",
    "status_changed": "processing",
    "succeeded": "succeeded",
    "failed": "failed",
    "expired": "expired",
    "cancelled": "cancelled",
    "refunded": "refunded",
}
KASPI_STATUS = {
    "created": "pending",
    "status_changed": "processing",
    "paid": "paid",
    "canceled": "canceled",
    "refunded": "refunded",
}


def _freefin_object(kind: str, object_id: str, at: datetime) -> dict[str, Any]:
    obj, _, what = kind.partition(".")
    if obj == "payout":
        status = {"succeeded": "succeeded", "failed": "failed"}.get(what, "pending")
        return {
            "id": object_id,
            "merchant_id": "7f000000-0000-4000-8000-000000000001",
            "terminal_id": "7f000000-0000-4000-8000-000000000002",
            "amount": 150000,
            "currency": "RUB",
            "method": "sbp",
            "status": status,
            "recipient": {"phone": "+79001234567", "bank_id": "100000000111"},
            "created_at": _iso(at),
        }
    status = FREEFIN_STATUS.get(what, "processing")
    return {
        "id": object_id,
        "merchant_id": "7f000000-0000-4000-8000-000000000001",
        "terminal_id": "7f000000-0000-4000-8000-000000000002",
        "order_id": "order-" + object_id[:8],
        "amount": 10000,
        "amount_refunded": 10000 if status == "refunded" else 0,
        "currency": "RUB",
        "method": "sbp",
        "status": status,
        "created_at": _iso(at),
        "expires_at": _iso(at + timedelta(minutes=15)),
        "metadata": {},
        "refunds": [],
    }


def _kaspi_object(kind: str, object_id: str, at: datetime) -> dict[str, Any]:
    obj, _, what = kind.partition(".")
    if obj == "webhook":
        return {"webhook_id": "wh_grader", "message": "a test event"}
    if obj == "subscription":
        return {
            "id": object_id,
            "status": "active",
            "amount": "5000.00",
            "phone_number": "77011234567",
            "invoice_id": "inv_" + uuid.uuid4().hex[:8],
            "created_at": _iso(at),
        }
    status = KASPI_STATUS.get(what, "processing")
    return {
        "id": object_id,
        "external_order_id": "order-" + object_id[-8:],
        "amount": "10000.00",
        "refunded_amount": "10000.00" if status == "refunded" else "0.00",
        "currency": "KZT",
        "status": status,
        "description": "grader",
        "phone_number": "77011234567",
        "kaspi_invoice_id": str(uuid.uuid4().int)[:12],
        "payment_url": f"https://pay.kaspi.kz/pay/{object_id}",
        "is_sandbox": True,
        "created_at": _iso(at),
        "updated_at": _iso(at),
    }


def new_object_id(fmt: WebhookFormat, kind: str) -> str:
    obj = kind.partition(".")[0]
    if fmt.api == "freefin":
        return str(uuid.uuid4())
    return {"invoice": "inv_", "qr": "qr_", "subscription": "sub_"}.get(obj, "x_") + (
        uuid.uuid4().hex[:12]
    )


def event(
    fmt: WebhookFormat, kind: str, object_id: str, at: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    make = _freefin_object if fmt.api == "freefin" else _kaspi_object
    return {
        "id": "evt_" + uuid.uuid4().hex,
        fmt.kind_field: kind,
        "created_at": _iso(at),
        fmt.object_field: make(kind, object_id, at),
        **extra,
    }
