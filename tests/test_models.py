"""The simulator's typed models against the schemas of the objects they describe.

Each model (a TypedDict) is compared with its schema, the seed's where the seed has one, with
what the supplement adds (an ``allOf`` over the seed's, or a schema of its own where the seed
gives none): every field is a property of the schema, of the same JSON type (string, integer,
number, boolean, object, array; nullable or not), every required property is a required key,
and every property is in the model, unless ``NOT_RETURNED`` says why not. Then what the simulator
stores, one object of each kind in the states that add fields, is read back and compared with
the stored models, field by field (where mypy cannot see it: a body built as a plain dict).
"""

import functools
import json
import types
import typing
from typing import Any, NotRequired, TypedDict, Union

import pytest
from flask import Flask

from harness.apis import documents
from simulator.core.runtime import Runtime
from simulator.freefin import models as freefin
from simulator.freefin import payments as freefin_payments
from simulator.freefin import payouts as freefin_payouts
from simulator.kaspi import audit, catalog, invoices, notify
from simulator.kaspi import models as kaspi
from simulator.kaspi import refunds as kaspi_refunds
from tests.conftest import FF, SpecClient, create_payment
from tests.kaspi_client import PHONE, KaspiClient

SEED = "seed"
SUPPLEMENT = "supplement"

# (api, model, the schemas it is checked against: (document, JSON pointer), merged as an allOf)
MODELS: list[tuple[str, type, list[tuple[str, str]]]] = [
    (
        "freefin",
        freefin.Payment,
        [(SEED, "/components/schemas/Payment"), (SUPPLEMENT, "/components/schemas/PaymentExtras")],
    ),
    ("freefin", freefin.Refund, [(SEED, "/components/schemas/Refund")]),
    ("freefin", freefin.Payout, [(SEED, "/components/schemas/Payout")]),
    ("freefin", freefin.Recipient, [(SEED, "/components/schemas/Payout/properties/recipient")]),
    ("kaspi", kaspi.Invoice, [(SUPPLEMENT, "/components/schemas/InvoiceDetail")]),
    ("kaspi", kaspi.Qr, [(SUPPLEMENT, "/components/schemas/Qr")]),
    ("kaspi", kaspi.Refund, [(SUPPLEMENT, "/components/schemas/Refund")]),
    ("kaspi", kaspi.CatalogItem, [(SUPPLEMENT, "/components/schemas/CatalogItem")]),
    ("kaspi", kaspi.Subscription, [(SUPPLEMENT, "/components/schemas/Subscription")]),
    ("kaspi", kaspi.WebhookEndpoint, [(SUPPLEMENT, "/components/schemas/WebhookEndpoint")]),
    ("kaspi", kaspi.Delivery, [(SUPPLEMENT, "/components/schemas/Delivery")]),
    (
        "kaspi",
        kaspi.Attempt,
        [(SUPPLEMENT, "/components/schemas/Delivery/properties/history/items")],
    ),
    ("kaspi", kaspi.AuditEntry, [(SUPPLEMENT, "/components/schemas/AuditLogEntry")]),
    ("kaspi", kaspi.Actor, [(SUPPLEMENT, "/components/schemas/AuditLogEntry/properties/actor")]),
    ("kaspi", kaspi.WebhookEvent, [(SUPPLEMENT, "/components/schemas/WebhookEvent")]),
]

# Schema properties a model leaves out because the simulator knowingly never returns them:
# ("api.Model", property) -> why. Empty while the simulator returns every property.
NOT_RETURNED: dict[tuple[str, str], str] = {}

# A stored model is its API model plus private fields only; (stored, API model).
STORED: list[tuple[type, type]] = [
    (freefin.StoredPayment, freefin.Payment),
    (freefin.StoredPayout, freefin.Payout),
    (kaspi.StoredInvoice, kaspi.Invoice),
    (kaspi.StoredQr, kaspi.Qr),
    (kaspi.StoredPayable, kaspi.Payable),
    (kaspi.StoredRefund, kaspi.Refund),
    (kaspi.StoredSubscription, kaspi.Subscription),
    (kaspi.StoredWebhookEndpoint, kaspi.WebhookEndpoint),
]

PYTHON_TYPES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    type(None): "null",
}


@functools.cache
def document(api: str, which: str) -> dict[str, Any]:
    files = documents.files(api)
    return documents.read(files.seed if which == SEED else files.supplement)


def _pointer(doc: dict[str, Any], pointer: str) -> dict[str, Any]:
    node: Any = doc
    for part in pointer.lstrip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return dict(node)


def resolve(api: str, which: str, node: Any) -> Any:
    """``node`` with every ``$ref`` replaced by what it names (in the seed where it names the
    seed's file, else in the document it stands in) and every ``allOf`` merged: properties and
    required lists joined, a later part's keys winning."""
    if isinstance(node, list):
        return [resolve(api, which, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, _, pointer = node["$ref"].partition("#")
        if target:
            which = SEED if target == documents.SEED_NAMES[api] else SUPPLEMENT
        return resolve(api, which, _pointer(document(api, which), pointer))
    plain = {key: resolve(api, which, value) for key, value in node.items()}
    return merge(plain.pop("allOf"), plain) if "allOf" in plain else plain


def merge(parts: list[dict[str, Any]], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolved schemas as one (an ``allOf``)."""
    merged: dict[str, Any] = {**(base or {}), "properties": {}, "required": []}
    for part in parts:
        for name, prop in part.get("properties", {}).items():
            merged["properties"][name] = {**merged["properties"].get(name, {}), **prop}
        merged["required"] += part.get("required", [])
        merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
    return merged


def schema_of(api: str, parts: list[tuple[str, str]]) -> dict[str, Any]:
    """The schema a model is checked against: its parts, resolved and merged."""
    return merge([resolve(api, which, {"$ref": "#" + pointer}) for which, pointer in parts])


def schema_types(prop: dict[str, Any]) -> set[str]:
    """The JSON types a (resolved) property allows (``null`` when nullable)."""
    if "oneOf" in prop or "anyOf" in prop:
        found: set[str] = set()
        for option in prop.get("oneOf", prop.get("anyOf")):
            found |= schema_types(option)
    else:
        found = {prop["type"]} if "type" in prop else set()
    return found | ({"null"} if prop.get("nullable") else set())


def model_types(annotation: Any) -> set[str]:
    """The JSON types a field's annotation allows."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return set().union(*(model_types(arg) for arg in typing.get_args(annotation)))
    if typing.is_typeddict(annotation):
        return {"object"}
    bare = typing.get_origin(annotation) or annotation
    return {PYTHON_TYPES.get(bare, f"?{annotation!r}")}


def problems(model: type, schema: dict[str, Any], skipped: tuple[str, ...] = ()) -> list[str]:
    """Every way ``model`` departs from ``schema`` (empty when it agrees)."""
    found = []
    hints = typing.get_type_hints(model)
    properties = schema.get("properties", {})
    for name, annotation in hints.items():
        if name not in properties:
            found.append(f"{name}: not a property of the schema")
            continue
        want, have = schema_types(properties[name]), model_types(annotation)
        if want != have:
            found.append(f"{name}: {sorted(want)} in the schema, {sorted(have)} in the model")
        items = properties[name].get("items")
        if items is not None and typing.get_args(annotation):
            want = schema_types(items)
            have = model_types(typing.get_args(annotation)[0])
            if want != have:
                found.append(f"{name}[]: {sorted(want)} in the schema, {sorted(have)} in the model")
    for name in schema.get("required", []):
        if name in hints and name not in model.__required_keys__:  # type: ignore[attr-defined]
            found.append(f"{name}: required by the schema, not a required key of the model")
    for name in properties:
        if name not in hints and name not in skipped:
            found.append(f"{name}: a property of the schema, not in the model")
    return found


@pytest.mark.parametrize(
    ("api", "model", "parts"), MODELS, ids=[f"{api}.{m.__name__}" for api, m, _ in MODELS]
)
def test_model_agrees_with_its_schema(api: str, model: type, parts: list[tuple[str, str]]) -> None:
    skipped = tuple(prop for (named, prop) in NOT_RETURNED if named == f"{api}.{model.__name__}")
    assert problems(model, schema_of(api, parts), skipped) == []


def test_not_returned_names_real_properties() -> None:
    by_name = {f"{api}.{model.__name__}": (api, model, parts) for api, model, parts in MODELS}
    for (name, prop), why in NOT_RETURNED.items():
        api, model, parts = by_name[name]
        assert why and prop in schema_of(api, parts)["properties"]
        assert prop not in typing.get_type_hints(model)


@pytest.mark.parametrize(("stored", "model"), STORED, ids=[s.__name__ for s, _ in STORED])
def test_stored_model_adds_private_fields_only(stored: type, model: type) -> None:
    stored_hints, hints = typing.get_type_hints(stored), typing.get_type_hints(model)
    assert {k: v for k, v in stored_hints.items() if k in hints} == hints
    assert all(name.startswith("_") for name in stored_hints.keys() - hints.keys())


# Broken models: each must be reported, or the check above has no teeth.
def variant(name: str, model: type, drop: tuple[str, ...] = (), **fields: Any) -> type:
    """A copy of ``model`` with ``fields`` retyped or added and the fields in ``drop`` left out."""
    hints = typing.get_type_hints(model, include_extras=True)
    kept = {k: v for k, v in hints.items() if k not in drop}
    return TypedDict(name, {**kept, **fields})


RefundWrongType = variant("RefundWrongType", freefin.Refund, amount=str)  # integer in the seed
CatalogItemOptionalSku = variant(  # required in the schema
    "CatalogItemOptionalSku", kaspi.CatalogItem, sku=NotRequired[str | None]
)
PayoutExtraField = variant("PayoutExtraField", freefin.Payout, fee=int)  # not in the seed
PayoutMissingField = variant("PayoutMissingField", freefin.Payout, drop=("fail_reason",))
QrNotNullable = variant("QrNotNullable", kaspi.Qr, latitude=float)  # nullable in the schema
# the seed's refunds are Refund objects
PaymentWrongRefunds = variant("PaymentWrongRefunds", freefin.Payment, refunds=list[str])

BROKEN = [
    ("freefin", RefundWrongType, "Refund", "amount: ['integer'] in the schema, ['string']"),
    ("kaspi", CatalogItemOptionalSku, "CatalogItem", "sku: required by the schema"),
    ("freefin", PayoutExtraField, "Payout", "fee: not a property of the schema"),
    ("freefin", PayoutMissingField, "Payout", "fail_reason: a property of the schema, not in"),
    ("kaspi", QrNotNullable, "Qr", "latitude: ['null', 'number'] in the schema, ['number']"),
    ("freefin", PaymentWrongRefunds, "Payment", "refunds[]: ['object'] in the schema, ['string']"),
]


@pytest.mark.parametrize(
    ("api", "broken", "name", "reported"), BROKEN, ids=[b.__name__ for _, b, _, _ in BROKEN]
)
def test_a_broken_model_is_reported(api: str, broken: type, name: str, reported: str) -> None:
    [parts] = [p for a, m, p in MODELS if a == api and m.__name__ == name]
    found = problems(broken, schema_of(api, parts))
    assert any(line.startswith(reported) for line in found), found


# -- what the simulator stores, against the stored models ------------------------------------

# Each stored kind and its model: a kind the simulator stores without one fails below.
STORED_KINDS: dict[str, type] = {
    freefin_payments.KIND: freefin.StoredPayment,
    freefin_payouts.KIND: freefin.StoredPayout,
    invoices.KINDS["invoice"]: kaspi.StoredInvoice,
    invoices.KINDS["qr"]: kaspi.StoredQr,
    kaspi_refunds.KIND: kaspi.StoredRefund,
    invoices.SUBSCRIPTION_KIND: kaspi.StoredSubscription,
    catalog.KIND: kaspi.CatalogItem,
    notify.ENDPOINT_KIND: kaspi.StoredWebhookEndpoint,
    audit.KIND: kaspi.AuditEntry,
}


def departures(value: Any, annotation: Any, where: str) -> list[str]:
    """Every way a stored JSON value departs from its model's annotation."""
    if annotation is Any:
        return []
    if typing.is_typeddict(annotation):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        hints = typing.get_type_hints(annotation)
        found = [
            f"{where}.{key}: not in {annotation.__name__}" for key in value if key not in hints
        ]
        found += [
            f"{where}.{key}: missing, required by {annotation.__name__}"
            for key in sorted(annotation.__required_keys__ - value.keys())
        ]
        for key in [key for key in value if key in hints]:
            found += departures(value[key], hints[key], f"{where}.{key}")
        return found
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        each = [departures(value, arm, where) for arm in args]
        return [] if [] in each else [f"{where}: {value!r} is none of {annotation}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r}, not a list"]
        return [
            line for i, v in enumerate(value) for line in departures(v, args[0], f"{where}[{i}]")
        ]
    expected = {dict: dict, str: str, bool: bool, type(None): type(None), int: int}.get(
        origin or annotation
    )
    if annotation is float:  # a JSON number: an integer too, as mypy reads float
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = expected is not None and isinstance(value, expected)
    return [] if ok else [f"{where}: {value!r} is not {annotation}"]


def _make_every_object(api: SpecClient, kaspi_client: KaspiClient, rt: Runtime) -> None:
    """One of each object in each state that adds fields."""
    paid = create_payment(api, amount=10000, method="cards")["id"]
    create_payment(api, amount=20000, method="sbp", description="d", return_url="https://r.example")
    create_payment(api, amount=1313)  # fails
    create_payment(api, amount=1616)  # stays pending
    cancelled = create_payment(api, amount=1616)["id"]
    api.post(f"{FF}/payments/{cancelled}/cancel")
    payout = {"amount": 250000, "phone": "+79001234567", "bank_id": "100000000111"}
    assert api.post(f"{FF}/payouts", json=payout).status_code == 201
    assert api.post(f"{FF}/payouts", json={**payout, "phone": "+79990000001"}).status_code == 201
    rt.advance(5)
    assert api.post(f"{FF}/payments/{paid}/refund", json={"amount": 300, "reason": "r"}).json
    invoice = kaspi_client.invoice(amount=100, external_order_id="o-1")["id"]
    kaspi_client.post(f"/v1/sandbox/invoices/{invoice}/simulate", json={"status": "paid"})
    kaspi_client.post(f"/v1/invoices/{invoice}/refund", json={"amount": 30, "reason": "r"})
    qr = kaspi_client.post("/v1/qr", json={"amount": 50, "latitude": 43.2, "longitude": 76})
    assert qr.status_code == 201, qr.json
    kaspi_client.post("/v1/refunds", json={"qr_id": qr.json["id"]})  # not paid: refused
    item = {"name": "Капучино", "price": 1200, "sku": "cof-1"}
    assert kaspi_client.post("/v1/catalog", json={"items": [item, {"name": "Чай", "price": 500}]})
    sub = {"phone_number": PHONE, "amount": 1990, "billing_period": "daily", "is_sandbox": True}
    assert kaspi_client.post("/v1/subscriptions", json=sub).status_code == 201
    hook = {"url": "https://hooks.example/kaspi", "events": ["invoice.*"]}
    assert kaspi_client.post("/v1/webhooks", json=hook).status_code == 201
    rt.advance(5)


def test_what_the_simulator_stores_agrees_with_the_stored_models(
    app: Flask, api: SpecClient, rt: Runtime
) -> None:
    _make_every_object(api, KaspiClient(app.test_client()), rt)
    with rt.store.read() as tx:
        rows = tx.execute("SELECT kind, data FROM objects").fetchall()
    seen: dict[str, int] = {}
    found = []
    for kind, data in rows:
        seen[kind] = seen.get(kind, 0) + 1
        if kind in STORED_KINDS:
            doc = json.loads(data)
            found += departures(doc, STORED_KINDS[kind], f"{kind} {doc['id']}")
    assert found == []
    assert seen.keys() == STORED_KINDS.keys()  # every model met, and no kind without one
    statuses = {json.loads(data)["status"] for kind, data in rows if kind == "ff_payment"}
    assert statuses == {"succeeded", "failed", "pending", "cancelled"}


@pytest.mark.parametrize(
    ("value", "reported"),
    [
        ({"id": "r", "amount": 1, "amout": 2}, "refund.amout: not in Refund"),
        ({"id": "r"}, "refund.amount: missing, required by Refund"),
        ({"id": "r", "amount": "1"}, "refund.amount: '1' is not <class 'int'>"),
        ({"id": "r", "amount": True}, "refund.amount: True is not <class 'int'>"),
        ({"id": 7, "amount": 1}, "refund.id: 7 is not <class 'str'>"),
    ],
)
def test_a_stored_object_unlike_its_model_is_reported(value: dict[str, Any], reported: str) -> None:
    full = {
        "payment_id": "p",
        "merchant_id": "m",
        "status": "succeeded",
        "created_at": "t",
        "completed_at": "t",
    }
    assert reported in departures({**full, **value}, freefin.Refund, "refund")


def test_a_nullable_or_nested_field_unlike_its_model_is_reported() -> None:
    recipient = {"phone": "+7", "bank_id": 100000000111}
    assert departures(recipient, freefin.Recipient, "r") == [
        "r.bank_id: 100000000111 is not <class 'str'>"
    ]
    event = {"id": "e", "event": "x", "created_at": "t", "data": []}
    assert departures(event, kaspi.WebhookEvent, "e") == ["e.data: [] is not dict[str, typing.Any]"]
    endpoint = {"id": "w", "url": "u", "events": ["*", 1], "is_active": True, "secret_hint": "h"}
    assert departures({**endpoint, "created_at": None}, kaspi.WebhookEndpoint, "w") == [
        "w.events[1]: 1 is not <class 'str'>",
        "w.created_at: None is not <class 'str'>",
    ]
    refund = {
        "id": "rfd_1",
        "invoice_id": None,  # nullable: fine
        "qr_id": "qr_1",
        "amount": "1.00",
        "currency": "KZT",
        "status": "completed",
        "reason": 5,
        "kaspi_refund_id": "1",
        "created_at": "t",
    }
    assert departures(refund, kaspi.Refund, "f") == ["f.reason: 5 is none of str | None"]
