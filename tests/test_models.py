"""The simulator's typed models against the schemas of the objects they describe.

Each model (a TypedDict) is compared with its schema, the seed's where the seed has one, with
what the supplement adds (an ``allOf`` over the seed's, or a schema of its own where the seed
gives none): every field is a property of the schema, of the same JSON type (string, integer,
number, boolean, object, array; nullable or not), every required property is a required key,
and every property is in the model, unless ``NOT_RETURNED`` says why not.
"""

import functools
import types
import typing
from typing import Any, NotRequired, TypedDict, Union

import pytest

from harness.apis import documents
from simulator.freefin import models as freefin
from simulator.kaspi import models as kaspi

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
class RefundWrongType(TypedDict):
    id: str
    payment_id: str
    merchant_id: str
    amount: str  # integer in the seed
    status: str
    created_at: str
    completed_at: str
    reason: NotRequired[str]


class CatalogItemOptionalSku(TypedDict):
    id: str
    name: str
    sku: NotRequired[str | None]  # required in the schema
    price: str
    currency: str
    unit_id: str
    unit_name: str
    vat_rate: int
    is_active: bool
    created_at: str


class PayoutExtraField(freefin.Payout):
    fee: int  # not in the seed


class PayoutMissingField(TypedDict):
    id: str
    merchant_id: str
    terminal_id: str
    amount: int
    currency: str
    method: str
    status: str
    recipient: freefin.Recipient
    created_at: str
    completed_at: NotRequired[str]


class QrNotNullable(kaspi.Payable):
    comment: str
    latitude: float  # nullable in the schema
    longitude: float | None
    kaspi_qr_id: str
    qr_payload: str


# the seed's refunds are Refund objects
PaymentWrongRefunds = TypedDict(  # type: ignore[misc]
    "PaymentWrongRefunds", {**typing.get_type_hints(freefin.Payment), "refunds": list[str]}
)

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
