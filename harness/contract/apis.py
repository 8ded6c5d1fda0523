"""What the contract suite knows of each API beyond its OpenAPI document.

Everything here is taken from the spec or from the API's documented semantics (the seed
documents' prose and the issue texts that describe them), never from one implementation.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from paysim.documents import SPECS


@dataclasses.dataclass(frozen=True)
class ObjectRef:
    """Where a response to an operation carries an object that has a status.

    ``pointer`` is a JSON pointer into the body ("" for the body itself); the object's id is at
    ``id_field`` inside it, or, when ``id_from_path`` is set, the operation's ``{id}`` parameter.
    """

    kind: str
    pointer: str = ""
    id_field: str = "id"
    id_from_path: bool = False


@dataclasses.dataclass(frozen=True)
class ApiProfile:
    """One API as the suite sees it."""

    name: str
    spec_file: Path
    supplement_file: Path
    links_file: Path
    security_scheme: str
    # Statuses that the spec's global statements allow on every operation (security scheme,
    # rate limits), with the component that describes them.
    global_statuses: Mapping[str, dict[str, Any]]
    error_schema_ref: str
    # Statuses a shared parameter's description promises wherever it is used:
    # {parameter $ref: {status: response}}.
    parameter_statuses: Mapping[str, Mapping[str, dict[str, Any]]]
    # Statuses that each kind of object may move through: {kind: {from: {to, ...}}}.
    transitions: Mapping[str, Mapping[str, frozenset[str]]]
    # (METHOD, path) -> objects with a status in its successful responses.
    objects: Mapping[tuple[str, str], tuple[ObjectRef, ...]]
    # Operations that create an object and honour Idempotency-Key: (METHOD, path) -> pointer
    # of the created object's id in the body.
    idempotent_creates: Mapping[tuple[str, str], str]
    # Reads of one object by id, probed with another merchant's key.
    object_reads: frozenset[tuple[str, str]]
    # (METHOD, path) of a cancel or a refund -> (kind, statuses the object may be in for it).
    preconditions: Mapping[tuple[str, str], tuple[str, frozenset[str]]]
    # Fields that hold money, and the format they must have.
    money_fields: frozenset[str]
    amount_check: Callable[[Any], bool]
    amount_format: str
    # The error envelope: a function that returns a problem description or None.
    envelope_problem: Callable[[Any], str | None]
    # Read of the parent object by id, used after refunds: path template with {id}.
    parent_read: str
    # Where stateful chains start: the operations that create an object from nothing.
    roots: frozenset[tuple[str, str]] = frozenset()
    # Constraints on shared parameters that the supplement states in prose only, applied at
    # the strict level as `components.parameters` (the supplement's own structured entries of
    # the same name win): {parameter name: schema changes}.
    strict_parameters: Mapping[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def _is_minor_units(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TWO_DECIMALS = re.compile(r"^-?\d+\.\d{2}$")


def _is_two_decimal_string(value: Any) -> bool:
    return isinstance(value, str) and bool(_TWO_DECIMALS.match(value))


def _freefin_envelope_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return 'expected {"error": {"code": <string>, "message": <string>}}'
    error = body["error"]
    for field in ("code", "message"):
        if not isinstance(error.get(field), str):
            return f"error.{field} must be a string, got {error.get(field)!r}"
    return None


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


def _graph(edges: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    return {state: frozenset(targets) for state, targets in edges.items()}


FF = "/api/v1/public"

FREEFIN = ApiProfile(
    name="freefin",
    spec_file=SPECS / "freefin.openapi.yaml",
    supplement_file=SPECS / "freefin.supplement.yaml",
    links_file=SPECS / "freefin.links.yaml",
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
        "payment": _graph(
            {
                "pending": {"processing", "expired", "cancelled"},
                "processing": {"succeeded", "failed"},
                "succeeded": {"refunded"},
            }
        ),
        "payout": _graph({"pending": {"succeeded", "failed"}}),
        "refund": _graph({"pending": {"succeeded", "failed"}}),
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

_KASPI_PAYMENT = _graph(
    {
        "pending": {"processing", "paid", "canceled"},
        "processing": {"paid", "canceled"},
        "paid": {"refunded"},
    }
)

KASPI = ApiProfile(
    name="kaspi",
    spec_file=SPECS / "kaspi.openapi.json",
    supplement_file=SPECS / "kaspi.supplement.yaml",
    links_file=SPECS / "kaspi.links.yaml",
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

PROFILES: dict[str, ApiProfile] = {"freefin": FREEFIN, "kaspi": KASPI}


def reachable(graph: Mapping[str, frozenset[str]], start: str, end: str) -> bool:
    """Whether ``end`` can follow ``start`` along the graph (unobserved steps allowed)."""
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), frozenset()):
            if nxt == end:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return start == end
