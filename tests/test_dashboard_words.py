"""What the dashboard's pages say, read as a newcomer reads them: money as each API's seed
defines it, merchants by their names, kinds of object in words. Rendered by the Flask test
client; the buttons and scripts are tested in a real browser in test_dashboard."""

from __future__ import annotations

import re

import pytest

from simulator.ui.data import Kind
from tests.conftest import FF, KEY_A1, SpecClient

KASPI = {"X-API-Key": "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"}
ROMASHKA = "6f0c2a4e-1b7d-4c39-9a51-2d8e6b0f3a11"  # merchant A of freefin (simulator/seed.yaml)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _invoice(api: SpecClient, amount: float) -> None:
    made = api.client.post(
        "/api/v1/invoices",
        headers={**KASPI, "Idempotency-Key": f"words-{amount}"},
        json={"amount": amount, "phone_number": "77001234567"},
    )
    assert made.status_code == 201, made.json


def test_freefin_money_is_minor_units_and_kaspi_money_is_tenge(api: SpecClient) -> None:
    assert api.post(f"{FF}/payments", key=KEY_A1, json={"amount": 10000}).status_code == 201
    _invoice(api, 10000)
    payments = _text(api.client.get("/_sim/ui/freefin/payment").get_data(as_text=True))
    assert "100.00 RUB" in payments and "10000 RUB" not in payments
    invoices = _text(api.client.get("/_sim/ui/kaspi/invoice").get_data(as_text=True))
    assert "10000.00 KZT" in invoices


def test_merchants_are_named_as_in_the_seed(api: SpecClient) -> None:
    assert api.post(f"{FF}/payments", key=KEY_A1, json={"amount": 10000}).status_code == 201
    _invoice(api, 12.5)
    overview = _text(api.client.get("/_sim/ui/").get_data(as_text=True))
    assert "ООО «Ромашка»" in overview and "Almaty Coffee" in overview
    listing = api.client.get(f"/_sim/ui/freefin/payment?merchant={ROMASHKA}")
    assert "payments of ООО «Ромашка»" in _text(listing.get_data(as_text=True))


def test_kinds_of_object_are_named_in_words(api: SpecClient) -> None:
    _invoice(api, 20)  # an invoice leaves an audit entry
    overview = _text(api.client.get("/_sim/ui/").get_data(as_text=True))
    assert "audit entries" in overview and "entrys" not in overview


@pytest.mark.parametrize(
    ("name", "plural"),
    [("payment", "payments"), ("audit-entry", "audit entries"), ("catalog-item", "catalog items"),
     ("survey", "surveys"), ("key", "keys")],
)  # fmt: skip
def test_plurals(name: str, plural: str) -> None:
    assert Kind("kaspi", name, "k").plural == plural
