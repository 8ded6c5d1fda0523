"""Kaspi refunds: only paid, full or partial, never above the amount, idempotent, listed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from simulator.core.runtime import Runtime
from tests.kaspi_client import KEY_B, KEY_OFF, KaspiClient


@pytest.fixture
def kaspi(app: Flask) -> KaspiClient:
    return KaspiClient(app.test_client())


def _paid(kaspi: KaspiClient, amount: float = 100, **fields: Any) -> dict[str, Any]:
    inv = kaspi.invoice(amount=amount, **fields)
    resp = kaspi.post(f"/v1/sandbox/invoices/{inv['id']}/simulate", json={"status": "paid"})
    assert resp.json["status"] == "paid"
    return inv


def test_only_paid_invoices_are_refunded(kaspi: KaspiClient) -> None:
    pending = kaspi.invoice(amount=16.16)
    resp = kaspi.post(f"/v1/invoices/{pending['id']}/refund", json={})
    assert (resp.status_code, resp.json["error"]) == (409, "not_paid")
    assert kaspi.post("/v1/invoices/inv_nope/refund", json={}).status_code == 404


def test_partial_then_full_refund_makes_it_refunded(kaspi: KaspiClient, rt: Runtime) -> None:
    inv = _paid(kaspi, 100)
    part = kaspi.post(f"/v1/invoices/{inv['id']}/refund", json={"amount": 30.25, "reason": "брак"})
    assert part.status_code == 201
    assert (part.json["amount"], part.json["reason"], part.json["status"]) == (
        "30.25",
        "брак",
        "completed",
    )
    mid = kaspi.get(f"/v1/invoices/{inv['id']}").json
    assert (mid["status"], mid["refunded_amount"]) == ("paid", "30.25")
    rest = kaspi.post(f"/v1/invoices/{inv['id']}/refund")  # no body: the whole remainder
    assert rest.json["amount"] == "69.75"
    done = kaspi.get(f"/v1/invoices/{inv['id']}").json
    assert (done["status"], done["refunded_amount"]) == ("refunded", "100.00")
    again = kaspi.post(f"/v1/invoices/{inv['id']}/refund", json={"amount": 1})
    assert (again.status_code, again.json["error"]) == (409, "already_refunded")
    with rt.store.read() as tx:
        kinds = [
            r[0]
            for r in tx.execute("SELECT kind FROM events WHERE api='kaspi' ORDER BY seq").fetchall()
        ]
    assert kinds[-3:] == ["invoice.refunded", "invoice.refunded", "invoice.status_changed"]


def test_a_refund_above_the_remainder_is_409(kaspi: KaspiClient) -> None:
    inv = _paid(kaspi, 100)
    kaspi.post(f"/v1/invoices/{inv['id']}/refund", json={"amount": 60})
    over = kaspi.post(f"/v1/invoices/{inv['id']}/refund", json={"amount": 40.01})
    assert (over.status_code, over.json["error"]) == (409, "amount_exceeds_remainder")
    assert over.json["details"]["refundable"] == "40.00"


@pytest.mark.parametrize(
    "body", [{"amount": 0}, {"amount": -1}, {"amount": "5"}, {"amount": 1.001}, {"reason": 5}]
)
def test_bad_refund_bodies_are_400(kaspi: KaspiClient, body: dict[str, Any]) -> None:
    inv = _paid(kaspi)
    assert kaspi.post(f"/v1/invoices/{inv['id']}/refund", json=body).status_code == 400


def test_refunds_through_v1_refunds_for_invoices_and_qr(kaspi: KaspiClient, rt: Runtime) -> None:
    inv = _paid(kaspi, 50)
    by_invoice = kaspi.post("/v1/refunds", json={"invoice_id": inv["id"], "amount": 10})
    assert by_invoice.status_code == 201 and by_invoice.json["invoice_id"] == inv["id"]
    qr = kaspi.post("/v1/qr", json={"amount": 20}).json
    rt.advance(5)
    by_qr = kaspi.post("/v1/refunds", json={"qr_id": qr["id"]})
    assert by_qr.status_code == 201 and by_qr.json["qr_id"] == qr["id"]
    assert by_qr.json["amount"] == "20.00"
    assert (
        kaspi.post("/v1/refunds", json={"invoice_id": inv["id"], "qr_id": qr["id"]}).status_code
        == 400
    )
    assert kaspi.post("/v1/refunds", json={"amount": 1}).status_code == 400
    assert kaspi.post("/v1/refunds", json={"qr_id": 5}).status_code == 400
    listed = kaspi.get("/v1/refunds").json
    assert [r["id"] for r in listed["items"]] == [by_qr.json["id"], by_invoice.json["id"]]
    assert kaspi.get(f"/v1/refunds?qr_id={qr['id']}").json["pagination"]["total"] == 1
    assert kaspi.get("/v1/refunds", key=KEY_B).json["items"] == []


def test_refunds_are_idempotent(kaspi: KaspiClient) -> None:
    inv = _paid(kaspi, 100)
    headers = {"Idempotency-Key": "r-1"}
    first = kaspi.post(f"/v1/invoices/{inv['id']}/refund", json={"amount": 10}, headers=headers)
    second = kaspi.post(f"/v1/invoices/{inv['id']}/refund", json={"amount": 10}, headers=headers)
    assert first.json == second.json and first.status_code == second.status_code == 201
    assert kaspi.get(f"/v1/invoices/{inv['id']}").json["refunded_amount"] == "10.00"
    other = kaspi.post(f"/v1/invoices/{inv['id']}/refund", json={"amount": 11}, headers=headers)
    assert (other.status_code, other.json["error"]) == (409, "idempotency_conflict")


def test_another_merchant_cannot_refund(kaspi: KaspiClient) -> None:
    inv = _paid(kaspi)
    assert kaspi.post(f"/v1/invoices/{inv['id']}/refund", key=KEY_B).status_code == 404
    assert kaspi.post("/v1/refunds", key=KEY_B, json={"invoice_id": inv["id"]}).status_code == 404


def test_refund_needs_kaspi_connected(kaspi: KaspiClient, app: Flask) -> None:
    inv = _paid(kaspi)
    control = app.test_client()
    control.post("/_sim/kaspi/session", json={"merchant_id": "m_almaty_coffee", "connected": False})
    resp = kaspi.post(f"/v1/invoices/{inv['id']}/refund")
    assert (resp.status_code, resp.json["error"]) == (409, "kaspi_not_connected")
    assert kaspi.get("/v1/me", key=KEY_OFF).status_code == 200
