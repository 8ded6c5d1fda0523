"""Catalog: items created in validated batches (all or nothing), listed; units of measure."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from simulator.core import directory, spec
from simulator.core.clock import iso
from simulator.core.errors import ApiError, Conflict
from simulator.core.runtime import Runtime
from simulator.kaspi import audit, money, paging
from simulator.kaspi.merchants import Merchant
from simulator.kaspi.models import CatalogItem

KIND = "kp_catalog_item"
MAX_BATCH = 100
VAT_RATES = (0, 12)  # Kazakhstan: exempt or the standard 12 %

# Units of measure by their code in the classifier of units (МКЕИ / OKEI), as Kaspi lists them.
UNITS = directory.load(Path(__file__).with_name("units.csv"))
UNIT_NAMES = {unit["id"]: unit["name"] for unit in UNITS}


def units() -> dict[str, Any]:
    return {"items": [dict(unit) for unit in UNITS]}


def _check_item(index: int, item: Any, errors: dict[str, str]) -> None:
    where = f"items.{index}"
    if not isinstance(item, dict):
        errors[where] = "must be an object"
        return
    name = item.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or not spec.has_text(name):
        errors[f"{where}.name"] = "is required: a string of 1 to 255 characters"
    try:
        money.to_tiyn(item.get("price"), "price")
    except ApiError as exc:
        errors[f"{where}.price"] = exc.details["fields"]["price"]
    unit = item.get("unit_id", "796")
    if not isinstance(unit, str) or unit not in UNIT_NAMES:
        errors[f"{where}.unit_id"] = "must be the id of a unit from /v1/catalog/units"
    sku = item.get("sku", "-")
    if not isinstance(sku, str) or not 1 <= len(sku) <= 64:
        errors[f"{where}.sku"] = "must be a string of 1 to 64 characters"
    vat = item.get("vat_rate", 12)
    if type(vat) is not int or vat not in VAT_RATES:
        errors[f"{where}.vat_rate"] = "must be 0 or 12"
    unknown = set(item) - {"name", "price", "unit_id", "sku", "vat_rate"}
    if unknown:
        errors[f"{where}"] = f"unknown fields: {', '.join(sorted(unknown))}"


def validate(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's items; 400 naming every bad field when any item is invalid."""
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise money.validation_error("items", f"must be a list of 1 to {MAX_BATCH} items")
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        _check_item(index, item, errors)
    if errors:
        raise ApiError(
            f"{len(errors)} invalid field(s) in the batch",
            code="validation_error",
            status=400,
            details={"fields": errors},
        )
    return items


def create(rt: Runtime, merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    """Create every item of the batch in one transaction; an SKU is unique per merchant."""
    items = validate(body)
    skus = [i["sku"] for i in items if i.get("sku")]
    if len(skus) != len(set(skus)):
        raise Conflict("the batch repeats an sku", code="duplicate_sku")
    now = iso(rt.clock.now())
    created: list[CatalogItem] = []
    with rt.store.tx() as tx:
        for item in items:
            if item.get("sku") and tx.count(
                KIND, merchant.id, f"{rt.store.field('sku')}=?", (item["sku"],)
            ):
                raise Conflict(
                    f"sku {item['sku']} exists", code="duplicate_sku", details={"sku": item["sku"]}
                )
            tiyn = money.to_tiyn(item["price"], "price")
            unit = item.get("unit_id", "796")
            doc: CatalogItem = {
                "id": "cat_" + uuid.uuid4().hex[:16],
                "name": item["name"],
                "sku": item.get("sku"),
                "price": money.render(tiyn),
                "currency": money.CURRENCY,
                "unit_id": unit,
                "unit_name": UNIT_NAMES[unit],
                "vat_rate": item.get("vat_rate", 12),
                "is_active": True,
                "created_at": now,
            }
            tx.insert(KIND, doc["id"], merchant.id, doc)
            created.append(doc)
        audit.record(
            rt,
            tx,
            merchant.id,
            merchant.actor,
            "catalog.create",
            "catalog_item",
            created[0]["id"],
            {"count": len(created)},
        )
    return {"items": created, "count": len(created)}


def listing(rt: Runtime, merchant: Merchant, args: dict[str, str]) -> dict[str, Any]:
    where, params = paging.equal_filters(rt.store, args, ("sku", "unit_id"))
    return paging.page(rt, KIND, merchant.id, args, where, params)
