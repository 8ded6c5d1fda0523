"""Arzan Pay Kaspi: the facts of its API (paths under /v1 at its base URL, amounts as strings)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from functools import cache
from typing import Any

from harness.apis.documents import files, supplement
from harness.apis.facts import ApiFacts, ObjectRef, WebhookFormat, graph, iso

DOCUMENTS = files("kaspi")
WEBHOOK_SIGNATURE_HEADER = "X-Arzan-Signature"
EVENT_ID_HEADER = "X-Arzan-Event-Id"


@cache
def webhooks() -> WebhookFormat:
    """Kaspi's webhooks: the event kinds are the keys of the supplement's ``events.kinds``."""
    kinds: list[str] = []
    for key in supplement("kaspi")["events"]["kinds"]:  # "qr.created / qr.status_changed"
        kinds.extend(part.strip() for part in str(key).split("/"))
    return WebhookFormat(
        api="kaspi",
        signature_header=WEBHOOK_SIGNATURE_HEADER,
        event_id_header=EVENT_ID_HEADER,
        event_header="X-Arzan-Event",
        kind_field="event",
        object_field="data",
        kinds=tuple(kinds),
        first_and_final=("invoice.created", "invoice.paid"),
        refund=("invoice.refunded", "refunded_amount"),
        ordering_source="supplement#/events/webhooks",  # no ordering entry of its own
        extra_headers={"X-Arzan-Webhook-Id": "wh_grader"},
    )


_TWO_DECIMALS = re.compile(r"^-?\d+\.\d{2}$")


def _is_two_decimal_string(value: Any) -> bool:
    return isinstance(value, str) and bool(_TWO_DECIMALS.match(value))


def _kaspi_envelope_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return 'expected {"error": <string>, "message": <string>, "details"?, "timestamp"?}'
    for field in ("error", "message"):
        if not isinstance(body.get(field), str):
            return f"{field} must be a string, got {body.get(field)!r}"
    if "details" in body and body["details"] is not None and not isinstance(body["details"], dict):
        return f"details must be an object, got {body['details']!r}"
    if "timestamp" in body and not isinstance(body["timestamp"], str):
        return f"timestamp must be a date-time string, got {body['timestamp']!r}"
    return None


_KASPI_PAYMENT = graph(
    {
        "pending": {"processing", "paid", "canceled"},
        "processing": {"paid", "canceled"},
        "paid": {"refunded"},
    }
)

# The status an object has in an event, by what the event says of it.
EVENT_STATUS = {
    "created": "pending",
    "status_changed": "processing",
    "paid": "paid",
    "canceled": "canceled",
    "refunded": "refunded",
}


def event_object(kind: str, object_id: str, at: datetime) -> dict[str, Any]:
    """The object an event of ``kind`` carries, as the seed describes it."""
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
            "created_at": iso(at),
        }
    status = EVENT_STATUS.get(what, "processing")
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
        "created_at": iso(at),
        "updated_at": iso(at),
    }


def new_id(kind: str) -> str:
    """A new id of the object an event of ``kind`` carries: its kind's prefix, then hex."""
    obj = kind.partition(".")[0]
    return {"invoice": "inv_", "qr": "qr_", "subscription": "sub_"}.get(obj, "x_") + (
        uuid.uuid4().hex[:12]
    )


FACTS = ApiFacts(
    name="kaspi",
    url_setting="kaspi_url",  # the seed's server, ending in /api
    key_header=("X-API-Key", ""),
    credentials={
        "key_a": ("kaspi_key", None),
        "key_b": ("kaspi_key_b", None),
        "unconnected": ("kaspi_key_unconnected", None),
        "limited": ("kaspi_limited_key", None),
    },
    probe="/v1/me",
    event_stream=None,
    signature_header=None,  # the API signs no request
    webhook_signature_header=WEBHOOK_SIGNATURE_HEADER,
    webhook_event_id_header=EVENT_ID_HEADER,
    webhooks=webhooks,
    event_object=event_object,
    new_id=new_id,
    documents=DOCUMENTS,
    security_scheme="ApiKeyAuth",
    # The Kaspi document states its security scheme globally but says nothing of rate limits.
    global_statuses={
        "401": {"description": "API key missing or invalid (security scheme)"},
        "403": {"description": "API key not allowed (security scheme)"},
    },
    error_schema_ref="#/components/schemas/Error",
    parameter_statuses={},
    transitions={
        # pending -> processing -> paid -> refunded; pending/processing -> canceled (a failed
        # payment too); QR payments live the same way.
        "invoice": _KASPI_PAYMENT,
        "qr": _KASPI_PAYMENT,
    },
    objects={
        ("POST", "/v1/invoices"): (ObjectRef("invoice"),),
        ("GET", "/v1/invoices/{id}"): (ObjectRef("invoice"),),
        ("POST", "/v1/invoices/{id}/cancel"): (ObjectRef("invoice", id_from_path=True),),
        ("POST", "/v1/sandbox/invoices/{id}/simulate"): (ObjectRef("invoice", id_from_path=True),),
        ("POST", "/v1/qr"): (ObjectRef("qr"),),
    },
    idempotent_creates={
        ("POST", "/v1/invoices"): "/id",
        ("POST", "/v1/qr"): "/id",
        ("POST", "/v1/refunds"): "/id",
    },
    object_reads=frozenset({("GET", "/v1/invoices/{id}")}),
    preconditions={
        ("POST", "/v1/invoices/{id}/cancel"): ("invoice", frozenset({"pending", "processing"})),
        ("POST", "/v1/invoices/{id}/refund"): ("invoice", frozenset({"paid"})),
    },
    money_fields=frozenset({"amount", "refunded_amount", "amount_refunded"}),
    amount_check=_is_two_decimal_string,
    amount_format='a string with two decimals ("10000.00")',
    envelope_problem=_kaspi_envelope_problem,
    parent_read="/v1/invoices/{id}",
    roots=frozenset({("POST", "/v1/invoices"), ("POST", "/v1/qr")}),
    # The supplement's `idempotency.header`: "Idempotency-Key (1..255 characters)"; the seed
    # gives the key no bounds at all.
    strict_parameters={"IdempotencyKey": {"schema": {"minLength": 1, "maxLength": 255}}},
)
