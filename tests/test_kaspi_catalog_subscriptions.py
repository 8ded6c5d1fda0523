"""Kaspi catalog, units, subscriptions billed on the simulated clock, and the Kaspi session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from simulator.core.runtime import Runtime
from simulator.kaspi.subscriptions import next_period
from tests.kaspi_client import KEY_B, KEY_OFF, MERCHANT_A, PHONE, KaspiClient

DAY = 86400


@pytest.fixture
def kaspi(app: Flask) -> KaspiClient:
    return KaspiClient(app.test_client())


def test_units_are_a_realistic_list(kaspi: KaspiClient) -> None:
    units = {u["id"]: u for u in kaspi.get("/v1/catalog/units").json["items"]}
    assert units["796"]["short_name"] == "шт" and units["166"]["short_name"] == "кг"
    assert len(units) >= 15


def test_catalog_batch_is_created_and_listed(kaspi: KaspiClient) -> None:
    batch = [
        {"name": "Капучино", "price": 1200, "sku": "cof-1"},
        {"name": "Зерно 1 кг", "price": 8990.5, "unit_id": "166", "vat_rate": 0},
    ]
    created = kaspi.post("/v1/catalog", json={"items": batch})
    assert created.status_code == 201 and created.json["count"] == 2
    assert created.json["items"][1]["price"] == "8990.50"
    assert created.json["items"][1]["unit_name"] == "килограмм"
    listed = kaspi.get("/v1/catalog").json
    assert listed["pagination"]["total"] == 2
    assert kaspi.get("/v1/catalog?sku=cof-1").json["items"][0]["name"] == "Капучино"
    assert kaspi.get("/v1/catalog", key=KEY_B).json["items"] == []
    dup = kaspi.post("/v1/catalog", json={"items": [{"name": "x", "price": 1, "sku": "cof-1"}]})
    assert (dup.status_code, dup.json["error"]) == (409, "duplicate_sku")


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"price": 1}], "items.0.name"),
        ([{"name": "ok", "price": 1}, {"name": "x", "price": 0}], "items.1.price"),
        ([{"name": "x", "price": 1, "unit_id": "999"}], "items.0.unit_id"),
        ([{"name": "x", "price": 1, "vat_rate": 20}], "items.0.vat_rate"),
        ([{"name": "x", "price": 1, "colour": "red"}], "items.0"),
        ([{"name": "x", "price": 1, "unit_id": {}}], "items.0.unit_id"),
        ([{"name": "x", "price": 1, "sku": None}], "items.0.sku"),
        ([{"name": " \u3000\t", "price": 1}], "items.0.name"),  # ECMA whitespace only
        ([{"name": "x" * 255 + " ", "price": 1}], "items.0.name"),  # 256 characters
        ([{"name": "x", "price": 1, "vat_rate": 12.0}], "items.0.vat_rate"),
        (["x"], "items.0"),
        ([], "items"),
        ("all", "items"),
    ],
)
def test_a_bad_batch_creates_nothing(kaspi: KaspiClient, items: Any, field: str) -> None:
    resp = kaspi.post("/v1/catalog", json={"items": items})
    assert resp.status_code == 400 and field in resp.json["details"]["fields"]
    assert kaspi.get("/v1/catalog").json["pagination"]["total"] == 0


def test_names_are_kept_as_sent_and_judged_as_the_schema_reads_them(kaspi: KaspiClient) -> None:
    """pattern '\\S' is ECMA-262's: U+001D and U+0085 are text there (Python strips them)."""
    names = ["\x1d", "\x85", " Латте "]
    resp = kaspi.post("/v1/catalog", json={"items": [{"name": n, "price": 1} for n in names]})
    assert resp.status_code == 201, resp.json
    assert [i["name"] for i in resp.json["items"]] == names


def test_next_period_follows_the_calendar() -> None:
    jan31 = datetime(2026, 1, 31, 10, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(next_period(jan31, "monthly"), UTC).day == 28
    leap = datetime(2028, 2, 29, tzinfo=UTC).timestamp()
    assert (
        datetime.fromtimestamp(next_period(leap, "yearly"), UTC).date().isoformat() == "2029-02-28"
    )
    assert next_period(0, "weekly") == 7 * DAY and next_period(0, "daily") == DAY


def test_subscription_bills_each_period(kaspi: KaspiClient, rt: Runtime) -> None:
    created = kaspi.post(
        "/v1/subscriptions",
        json={
            "phone_number": PHONE,
            "amount": 1990,
            "billing_period": "daily",
            "description": "Абонемент",
            "is_sandbox": True,
        },
    )
    assert created.status_code == 201
    sub = created.json
    assert (sub["periods_billed"], sub["status"], sub["amount"]) == (1, "active", "1990.00")
    rt.advance(2 * DAY + 60)
    rt.advance(5)  # the last period's invoice was issued when the clock reached it
    after = kaspi.get("/v1/subscriptions").json["items"][0]
    assert after["periods_billed"] == 3 and after["last_payment_status"] == "paid"
    invoices = kaspi.get("/v1/invoices").json["items"]
    assert len(invoices) == 3 and {i["subscription_id"] for i in invoices} == {sub["id"]}
    assert {i["status"] for i in invoices} == {"paid"}
    with rt.store.read() as tx:
        kinds = [
            r[0]
            for r in tx.execute(
                "SELECT kind FROM events WHERE kind LIKE 'subscription.%' ORDER BY seq"
            ).fetchall()
        ]
    assert kinds[0] == "subscription.created"
    assert kinds.count("subscription.billed") == 3 and kinds.count("subscription.paid") == 3


def test_a_periods_outcome_is_scripted_like_any_invoice(
    kaspi: KaspiClient,
    rt: Runtime,
    app: Flask,
) -> None:
    kaspi.post(
        "/v1/subscriptions",
        json={"phone_number": PHONE, "amount": 14.14, "billing_period": "weekly"},
    )
    rt.advance(60)
    assert kaspi.get("/v1/subscriptions").json["items"][0]["last_payment_status"] == "failed"
    app.test_client().post(
        "/_sim/kaspi/session", json={"merchant_id": MERCHANT_A, "connected": False}
    )
    rt.advance(7 * DAY)
    sub = kaspi.get("/v1/subscriptions").json["items"][0]
    assert sub["periods_billed"] == 2 and kaspi.get("/v1/invoices").json["pagination"]["total"] == 1
    with rt.store.read() as tx:
        last = tx.execute(
            "SELECT body FROM events WHERE kind='subscription.payment_failed' "
            "ORDER BY seq DESC LIMIT 1"
        ).fetchone()[0]
    assert "kaspi_not_connected" in last


@pytest.mark.parametrize(
    "body",
    [
        {"phone_number": PHONE, "amount": 100, "billing_period": "hourly"},
        {"phone_number": "123", "amount": 100},
        {"amount": 100},
        {"phone_number": PHONE, "amount": 0},
    ],
)
def test_bad_subscriptions_are_400(kaspi: KaspiClient, body: dict[str, Any]) -> None:
    assert kaspi.post("/v1/subscriptions", json=body).status_code == 400


def test_session_breaks_and_mends_through_the_control_api(kaspi: KaspiClient, app: Flask) -> None:
    control = app.test_client()
    session = kaspi.get("/v1/kaspi/session").json
    assert session["connected"] and session["status"] == "active" and session["expires_at"]
    assert kaspi.get("/v1/kaspi/session", key=KEY_OFF).json["expires_at"] is None
    broken = control.post(
        "/_sim/kaspi/session", json={"merchant_id": MERCHANT_A, "connected": False}
    )
    assert broken.get_json() == {"merchant_id": MERCHANT_A, "connected": False}
    assert kaspi.get("/v1/kaspi/session").json["status"] == "disconnected"
    assert kaspi.post("/v1/invoices", json={"amount": 1, "phone_number": PHONE}).status_code == 409
    assert kaspi.post("/v1/invoices/status/check", json={"ids": []}).status_code == 409
    control.post("/_sim/kaspi/session", json={"merchant_id": MERCHANT_A, "connected": True})
    assert kaspi.post("/v1/invoices", json={"amount": 1, "phone_number": PHONE}).status_code == 201
    assert (
        control.post(
            "/_sim/kaspi/session", json={"merchant_id": "m_x", "connected": True}
        ).status_code
        == 404
    )
    assert (
        control.post(
            "/_sim/kaspi/session", json={"merchant_id": MERCHANT_A, "connected": "no"}
        ).status_code
        == 400
    )
    control.post("/_sim/reset")
    assert kaspi.get("/v1/kaspi/session").json["connected"] is True
