"""The events each API sends to a webhook handler, as its supplement describes them
(``events.webhooks``): the body, the headers, the objects events carry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from harness import signing
from paysim.documents import SPECS


@dataclass(frozen=True)
class Format:
    """How one API's webhooks look on the wire (its supplement's ``events.webhooks``)."""

    api: str
    signature_header: str
    event_id_header: str
    event_header: str
    kind_field: str
    object_field: str
    kinds: tuple[str, ...]
    extra_headers: dict[str, str] = field(default_factory=dict)
    prefix: str = signing.PREFIX
    timeout_s: float = 5.0

    def source(self, what: str) -> str:
        return f"supplement#/events/webhooks/{what}"


def _supplement(api: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (SPECS / f"{api}.supplement.yaml").read_text(encoding="utf-8")
    )
    return loaded


def _kinds(api: str) -> tuple[str, ...]:
    doc = _supplement(api)
    if api == "freefin":
        enum = doc["components"]["schemas"]["Event"]["properties"]["kind"]["enum"]
        return tuple(enum)
    kinds: list[str] = []
    for key in doc["events"]["kinds"]:  # "qr.created / qr.status_changed / ..." lists several
        kinds.extend(part.strip() for part in str(key).split("/"))
    return tuple(kinds)


def formats() -> dict[str, Format]:
    return {
        "freefin": Format(
            api="freefin",
            signature_header="X-Freefin-Signature",
            event_id_header="X-Freefin-Event-Id",
            event_header="X-Freefin-Event",
            kind_field="kind",
            object_field="payload",
            kinds=_kinds("freefin"),
        ),
        "kaspi": Format(
            api="kaspi",
            signature_header="X-Arzan-Signature",
            event_id_header="X-Arzan-Event-Id",
            event_header="X-Arzan-Event",
            kind_field="event",
            object_field="data",
            kinds=_kinds("kaspi"),
            extra_headers={"X-Arzan-Webhook-Id": "wh_grader"},
        ),
    }


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


def new_object_id(fmt: Format, kind: str) -> str:
    obj = kind.partition(".")[0]
    if fmt.api == "freefin":
        return str(uuid.uuid4())
    return {"invoice": "inv_", "qr": "qr_", "subscription": "sub_"}.get(obj, "x_") + (
        uuid.uuid4().hex[:12]
    )


def event(
    fmt: Format, kind: str, object_id: str, at: datetime | None = None, **extra: Any
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
