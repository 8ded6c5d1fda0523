"""freefin: the facts of its API (paths under /api/v1/public, bearer keys, signed requests)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from harness.apis.documents import files, supplement
from harness.apis.facts import ApiFacts, ObjectRef, WebhookFormat, graph, iso

DOCUMENTS = files("freefin")
# One header signs both ways: a terminal's requests and the webhooks sent to it.
SIGNATURE_HEADER = "X-Freefin-Signature"
EVENT_ID_HEADER = "X-Freefin-Event-Id"


@cache
def webhooks() -> WebhookFormat:
    """freefin's webhooks: the event kinds are the supplement's ``Event.kind``."""
    kinds = supplement("freefin")["components"]["schemas"]["Event"]["properties"]["kind"]["enum"]
    return WebhookFormat(
        api="freefin",
        signature_header=SIGNATURE_HEADER,
        event_id_header=EVENT_ID_HEADER,
        event_header="X-Freefin-Event",
        kind_field="kind",
        object_field="payload",
        kinds=tuple(kinds),
        first_and_final=("payment.created", "payment.succeeded"),
        refund=("payment.refunded", "amount_refunded"),
        ordering_source="supplement#/events/webhooks/ordering",
    )


def _is_minor_units(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _freefin_envelope_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return 'expected {"error": {"code": <string>, "message": <string>}}'
    error = body["error"]
    for field in ("code", "message"):
        if not isinstance(error.get(field), str):
            return f"error.{field} must be a string, got {error.get(field)!r}"
    return None


FF = "/api/v1/public"

# The status an object has in an event, by what the event says of it.
EVENT_STATUS = {
    "created": "pending",
    "status_changed": "processing",
    "succeeded": "succeeded",
    "failed": "failed",
    "expired": "expired",
    "cancelled": "cancelled",
    "refunded": "refunded",
}


def event_object(kind: str, object_id: str, at: datetime) -> dict[str, Any]:
    """The object an event of ``kind`` carries, as the seed describes it."""
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
            "created_at": iso(at),
        }
    status = EVENT_STATUS.get(what, "processing")
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
        "created_at": iso(at),
        "expires_at": iso(at + timedelta(minutes=15)),
        "metadata": {},
        "refunds": [],
    }


def new_id(kind: str) -> str:
    """A new id of the object an event of ``kind`` carries: a UUID."""
    return str(uuid.uuid4())


FACTS = ApiFacts(
    name="freefin",
    url_setting="target_url",  # the server root: the paths carry /api/v1/public
    key_header=("Authorization", "Bearer "),
    credentials={
        "key_a": ("freefin_key", "freefin_signing_secret"),
        "key_b": ("freefin_key_b", None),
        "key_2": ("freefin_key_2", None),
        "signed": ("freefin_signed_key", "freefin_signed_secret"),
        "limited": ("freefin_limited_key", None),
    },
    probe=f"{FF}/banks/sbp",
    event_stream=f"{FF}/events",
    signature_header=SIGNATURE_HEADER,
    webhook_signature_header=SIGNATURE_HEADER,
    webhook_event_id_header=EVENT_ID_HEADER,
    webhooks=webhooks,
    event_object=event_object,
    new_id=new_id,
    documents=DOCUMENTS,
    security_scheme="BearerKey",
    global_statuses={
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
        "429": {"$ref": "#/components/responses/RateLimited"},
    },
    error_schema_ref="#/components/schemas/Error",
    # "При повторе с тем же ключом, но другим телом — 409 idempotent_conflict."
    parameter_statuses={
        "#/components/parameters/IdempotencyKey": {
            "409": {
                "description": "Idempotency-Key reused with another body "
                "(the parameter's description)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        }
    },
    transitions={
        # pending -> processing -> succeeded/failed; pending -> expired/cancelled;
        # succeeded -> refunded when fully refunded.
        "payment": graph(
            {
                "pending": {"processing", "expired", "cancelled"},
                "processing": {"succeeded", "failed"},
                "succeeded": {"refunded"},
            }
        ),
        "payout": graph({"pending": {"succeeded", "failed"}}),
        "refund": graph({"pending": {"succeeded", "failed"}}),
    },
    objects={
        ("POST", f"{FF}/payments"): (ObjectRef("payment", "/payment"),),
        ("GET", f"{FF}/payments/{{id}}"): (ObjectRef("payment"),),
        ("POST", f"{FF}/payments/{{id}}/cancel"): (ObjectRef("payment", id_from_path=True),),
        ("POST", f"{FF}/payments/{{id}}/refund"): (ObjectRef("refund"),),
        ("POST", f"{FF}/payouts"): (ObjectRef("payout", "/payout"),),
        ("GET", f"{FF}/payouts/{{id}}"): (ObjectRef("payout"),),
    },
    idempotent_creates={
        ("POST", f"{FF}/payments"): "/payment/id",
        ("POST", f"{FF}/payouts"): "/payout/id",
        ("POST", f"{FF}/payments/{{id}}/refund"): "/id",
    },
    object_reads=frozenset({("GET", f"{FF}/payments/{{id}}"), ("GET", f"{FF}/payouts/{{id}}")}),
    preconditions={
        ("POST", f"{FF}/payments/{{id}}/cancel"): ("payment", frozenset({"pending"})),
        ("POST", f"{FF}/payments/{{id}}/refund"): ("payment", frozenset({"succeeded"})),
    },
    # amount_usdt is documented as a double: not minor units, so not checked here.
    money_fields=frozenset({"amount", "amount_refunded"}),
    amount_check=_is_minor_units,
    amount_format="an integer of minor units",
    envelope_problem=_freefin_envelope_problem,
    parent_read=f"{FF}/payments/{{id}}",
    roots=frozenset({("POST", f"{FF}/payments"), ("POST", f"{FF}/payouts")}),
    # The supplement's `idempotency.header`: "Idempotency-Key (1..64 characters)"; the seed
    # gives only maxLength, so an empty key is data the seed allows.
    strict_parameters={"IdempotencyKey": {"schema": {"minLength": 1}}},
)
