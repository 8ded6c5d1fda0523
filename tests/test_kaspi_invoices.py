"""Kaspi invoices: auth, validation, money, outcomes, idempotency, lists, cancel, status check,
sandbox simulate; every response checked against the spec and the supplement."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from simulator.core.runtime import Runtime
from tests.kaspi_client import KEY_A, KEY_B, KEY_OFF, KEY_SLOW, MERCHANT_A, PHONE, KaspiClient


@pytest.fixture
def kaspi(app: Flask) -> KaspiClient:
    return KaspiClient(app.test_client())


def _events(rt: Runtime, merchant: str = MERCHANT_A) -> list[str]:
    with rt.store.read() as tx:
        rows = tx.execute(
            "SELECT kind FROM events WHERE api='kaspi' AND owner=? ORDER BY seq", (merchant,)
        ).fetchall()
    return [r[0] for r in rows]


def test_missing_or_wrong_key_is_401_in_the_envelope(kaspi: KaspiClient) -> None:
    missing = kaspi.get("/v1/me", key=None)
    wrong = kaspi.get("/v1/me", key=KEY_A[:-1] + "x")
    assert (missing.status_code, missing.json["error"]) == (401, "unauthorized")
    assert (wrong.status_code, wrong.json["error"]) == (401, "invalid_api_key")
    assert set(wrong.json) == {"error", "message", "details", "timestamp"}
    assert kaspi.post("/organizations/verify", key="nope").status_code == 401


def test_me_and_verify_name_the_merchant(kaspi: KaspiClient) -> None:
    me = kaspi.get("/v1/me").json
    assert me["id"] == MERCHANT_A and me["kaspi_connected"] is True
    verified = kaspi.post("/organizations/verify").json
    assert verified["valid"] and verified["organization"]["bin"] == "180140012345"
    assert kaspi.get("/v1/me", key=KEY_OFF).json["kaspi_connected"] is False


def test_rate_limit_answers_429_with_retry_after(kaspi: KaspiClient) -> None:
    codes = [kaspi.get("/v1/me", key=KEY_SLOW) for _ in range(5)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json["error"] == "rate_limited"
    assert kaspi.get("/v1/me").status_code == 200  # another merchant is not limited


def test_create_renders_exact_amounts_and_the_invoice_fields(kaspi: KaspiClient) -> None:
    inv = kaspi.invoice(amount=1234.5, description="Заказ #1042", external_order_id="o-1042")
    assert inv["id"].startswith("inv_") and inv["status"] == "pending"
    assert (inv["amount"], inv["currency"], inv["refunded_amount"]) == ("1234.50", "KZT", "0.00")
    assert inv["kaspi_invoice_id"] and inv["payment_url"].startswith("https://")
    assert kaspi.invoice(amount=0.1)["amount"] == "0.10"
    assert kaspi.invoice(amount=99999999.99)["amount"] == "99999999.99"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone_number": PHONE}, "amount"),
        ({"amount": 100}, "phone_number"),
        ({"amount": 0, "phone_number": PHONE}, "amount"),
        ({"amount": -5, "phone_number": PHONE}, "amount"),
        ({"amount": 10.005, "phone_number": PHONE}, "amount"),
        ({"amount": "100", "phone_number": PHONE}, "amount"),
        ({"amount": True, "phone_number": PHONE}, "amount"),
        ({"amount": 1e30, "phone_number": PHONE}, "amount"),
        ({"amount": 100, "phone_number": "87011234567"}, "phone_number"),
        ({"amount": 100, "phone_number": "7701123456"}, "phone_number"),
        ({"amount": 100, "phone_number": 77011234567}, "phone_number"),
        ({"amount": 100, "phone_number": PHONE, "is_sandbox": "yes"}, "is_sandbox"),
    ],
)
def test_invalid_invoices_are_400_naming_the_field(
    kaspi: KaspiClient,
    body: dict[str, Any],
    field: str,
) -> None:
    resp = kaspi.post("/v1/invoices", json=body)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"] == "validation_error"
    assert field in resp.json["details"]["fields"]


@pytest.mark.parametrize(
    ("data", "ctype"),
    [
        ("{", "application/json"),
        ("[1]", "application/json"),
        ("", "application/json"),
        ('{"amount": 1}', "text/plain"),
        ("NaN", "application/json"),
    ],
)
def test_malformed_bodies_are_400(kaspi: KaspiClient, data: str, ctype: str) -> None:
    resp = kaspi.post("/v1/invoices", data=data, content_type=ctype)
    assert resp.status_code == 400 and resp.json["error"] in ("bad_request", "validation_error")


def test_oversized_body_and_unknown_paths_get_the_envelope(kaspi: KaspiClient) -> None:
    big = kaspi.post("/v1/invoices", data="{" + " " * 70_000 + "}", content_type="application/json")
    assert big.status_code == 413 and big.json["error"] == "payload_too_large"
    assert kaspi.get("/v1/nothing-here").json["error"] == "not_found"
    assert kaspi.request("DELETE", "/v1/invoices").status_code == 405


def test_not_connected_is_409_and_refused_is_502(kaspi: KaspiClient) -> None:
    off = kaspi.post("/v1/invoices", key=KEY_OFF, json={"amount": 100, "phone_number": PHONE})
    assert (off.status_code, off.json["error"]) == (409, "kaspi_not_connected")
    refused = kaspi.post("/v1/invoices", json={"amount": 13.13, "phone_number": PHONE})
    assert (refused.status_code, refused.json["error"]) == (502, "kaspi_refused")
    assert kaspi.get("/v1/invoices").json["pagination"]["total"] == 0


def test_default_outcome_pays_on_the_simulated_clock(kaspi: KaspiClient, rt: Runtime) -> None:
    inv = kaspi.invoice()
    rt.advance(1.1)
    assert kaspi.get(f"/v1/invoices/{inv['id']}").json["status"] == "processing"
    rt.advance(1)
    paid = kaspi.get(f"/v1/invoices/{inv['id']}").json
    assert paid["status"] == "paid" and paid["paid_at"]
    assert _events(rt) == [
        "invoice.created",
        "invoice.status_changed",
        "invoice.status_changed",
        "invoice.paid",
    ]


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"amount": 14.14}, "canceled", "insufficient_funds"),
        ({"amount": 15.15}, "canceled", None),
        ({"amount": 16.16}, "pending", None),
        ({"amount": 17.17}, "processing", None),
        ({"description": "x [sim:failed:card_blocked]"}, "canceled", "card_blocked"),
        ({"description": "[sim:paid] [sim_delay_ms:100000]"}, "processing", None),
    ],
)
def test_magic_values_script_the_outcome(
    kaspi: KaspiClient,
    rt: Runtime,
    fields: dict[str, Any],
    status: str,
    reason: str | None,
) -> None:
    inv = kaspi.invoice(**fields)
    rt.advance(60)
    got = kaspi.get(f"/v1/invoices/{inv['id']}").json
    assert (got["status"], got["failure_reason"]) == (status, reason)


def test_bad_marker_is_400(kaspi: KaspiClient) -> None:
    resp = kaspi.post(
        "/v1/invoices", json={"amount": 1, "phone_number": PHONE, "description": "[sim:exploded]"}
    )
    assert resp.status_code == 400


def test_control_api_queues_outcomes_and_forces_transitions(
    kaspi: KaspiClient,
    app: Flask,
    rt: Runtime,
) -> None:
    control = app.test_client()
    queued = control.post(
        "/_sim/outcomes",
        json={"api": "kaspi", "object": "invoice", "outcome": "failed:expired_card"},
    )
    assert queued.status_code == 200
    inv = kaspi.invoice()
    rt.advance(5)
    assert kaspi.get(f"/v1/invoices/{inv['id']}").json["failure_reason"] == "expired_card"
    held = kaspi.invoice(amount=16.16)
    forced = control.post(
        "/_sim/transition",
        json={"api": "kaspi", "object": "invoice", "id": held["id"], "status": "paid"},
    )
    assert forced.status_code == 200 and forced.get_json()["status"] == "paid"
    again = control.post(
        "/_sim/transition",
        json={"api": "kaspi", "object": "invoice", "id": held["id"], "status": "processing"},
    )
    assert again.status_code == 409


def test_same_idempotency_key_replays_the_first_response(kaspi: KaspiClient, rt: Runtime) -> None:
    body = {"amount": 500, "phone_number": PHONE, "external_order_id": "o-1"}
    first = kaspi.post("/v1/invoices", json=body, headers={"Idempotency-Key": "k-1"})
    rt.advance(5)  # paid meanwhile: the replay still answers the first response
    second = kaspi.post("/v1/invoices", json=body, headers={"Idempotency-Key": "k-1"})
    assert second.status_code == first.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    other = kaspi.post(
        "/v1/invoices", json={**body, "amount": 501}, headers={"Idempotency-Key": "k-1"}
    )
    assert (other.status_code, other.json["error"]) == (409, "idempotency_conflict")
    assert kaspi.get("/v1/invoices").json["pagination"]["total"] == 1
    # the same key of another merchant is another key
    assert (
        kaspi.post("/v1/invoices", key=KEY_B, json=body, headers={"Idempotency-Key": "k-1"}).json[
            "id"
        ]
        != first.json["id"]
    )


def test_a_rejected_request_stores_nothing_under_its_key(kaspi: KaspiClient) -> None:
    body = {"amount": 13.13, "phone_number": PHONE}
    refused = kaspi.post("/v1/invoices", json=body, headers={"Idempotency-Key": "k"})
    assert refused.status_code == 502
    ok = kaspi.post("/v1/invoices", json={**body, "amount": 13}, headers={"Idempotency-Key": "k"})
    assert ok.status_code == 201


def test_list_filters_searches_and_pages(kaspi: KaspiClient, rt: Runtime) -> None:
    for n in range(5):
        kaspi.invoice(external_order_id=f"shop-{n}", description=f"Кофе {n}", is_sandbox=n < 3)
    kaspi.invoice(amount=16.16, phone_number="77779998877")
    kaspi.invoice(key=KEY_B)
    rt.advance(5)
    page = kaspi.get("/v1/invoices?page=2&page_size=4").json
    assert page["pagination"] == {"page": 2, "page_size": 4, "total": 6, "total_pages": 2}
    assert len(page["items"]) == 2
    assert kaspi.get("/v1/invoices?status=paid").json["pagination"]["total"] == 5
    pending = kaspi.get("/v1/invoices?status=pending").json["items"]
    assert pending[0]["phone_number"] == "77779998877"
    assert kaspi.get("/v1/invoices?is_sandbox=false").json["pagination"]["total"] == 2
    assert kaspi.get("/v1/invoices?search=shop-3").json["items"][0]["external_order_id"] == "shop-3"
    assert kaspi.get("/v1/invoices?search=Кофе").json["pagination"]["total"] == 5
    assert kaspi.get("/v1/invoices?search=9998877").json["pagination"]["total"] == 1
    assert kaspi.get("/v1/invoices?search=%25").json["pagination"]["total"] == 0
    assert kaspi.get("/v1/invoices?page_size=1000").json["pagination"]["page_size"] == 100
    assert kaspi.get("/v1/invoices?page=x").status_code == 400
    assert kaspi.get("/v1/invoices?is_sandbox=maybe").status_code == 400
    assert kaspi.get("/v1/invoices?page=").status_code == 400
    assert kaspi.get("/v1/invoices?is_sandbox=").status_code == 400
    assert kaspi.get("/v1/invoices?page=1&page=2").status_code == 400


def test_other_merchants_invoices_are_not_found(kaspi: KaspiClient) -> None:
    inv = kaspi.invoice()
    assert kaspi.get(f"/v1/invoices/{inv['id']}", key=KEY_B).status_code == 404
    assert kaspi.post(f"/v1/invoices/{inv['id']}/cancel", key=KEY_B).status_code == 404
    assert kaspi.get("/v1/invoices/inv_unknown").json["error"] == "not_found"


def test_cancel_only_pending_or_processing(kaspi: KaspiClient, rt: Runtime) -> None:
    pending = kaspi.invoice(amount=16.16)
    canceled = kaspi.post(f"/v1/invoices/{pending['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json["status"] == "canceled"
    assert canceled.json["failure_reason"] is None
    assert kaspi.post(f"/v1/invoices/{pending['id']}/cancel").status_code == 409
    processing = kaspi.invoice(amount=17.17)
    rt.advance(5)
    assert kaspi.post(f"/v1/invoices/{processing['id']}/cancel").status_code == 200
    paid = kaspi.invoice()
    rt.advance(5)
    again = kaspi.post(f"/v1/invoices/{paid['id']}/cancel")
    assert (again.status_code, again.json["error"]) == (409, "invalid_status")
    assert "invoice.canceled" in _events(rt)


def test_status_check_reports_unknown_ids(kaspi: KaspiClient, rt: Runtime) -> None:
    paid, failed = kaspi.invoice(), kaspi.invoice(amount=14.14)
    other = kaspi.invoice(key=KEY_B)
    rt.advance(5)
    ids = [paid["id"], failed["id"], other["id"], "inv_nope", "", "x" * 300]
    result = kaspi.post("/v1/invoices/status/check", json={"ids": ids}).json
    assert [i["found"] for i in result["items"]] == [True, True, False, False, False, False]
    assert [i["kaspi_status"] for i in result["items"][:2]] == ["Processed", "Error"]
    assert result["not_found"] == ids[2:]
    assert kaspi.post("/v1/invoices/status/check", json={"ids": "inv"}).status_code == 400
    assert kaspi.post("/v1/invoices/status/check", json={"ids": [1]}).status_code == 400
    assert kaspi.post("/v1/invoices/status/check", json={}).json["items"] == []
    too_many = kaspi.post("/v1/invoices/status/check", json={"ids": ["a"] * 101})
    assert too_many.status_code == 400


@pytest.mark.parametrize(
    ("status", "shows", "reason"),
    [
        ("paid", "paid", None),
        ("canceled", "canceled", None),
        ("failed", "canceled", "simulated_failure"),
        ("pending", "pending", None),
    ],
)
def test_sandbox_simulate(
    kaspi: KaspiClient,
    rt: Runtime,
    status: str,
    shows: str,
    reason: str | None,
) -> None:
    inv = kaspi.invoice()
    got = kaspi.post(f"/v1/sandbox/invoices/{inv['id']}/simulate", json={"status": status})
    assert got.status_code == 200
    assert (got.json["status"], got.json["failure_reason"]) == (shows, reason)
    rt.advance(60)  # the planned outcome no longer applies
    assert kaspi.get(f"/v1/invoices/{inv['id']}").json["status"] == shows


def test_simulate_refuses_live_invoices_and_final_states(kaspi: KaspiClient) -> None:
    live = kaspi.invoice(is_sandbox=False)
    resp = kaspi.post(f"/v1/sandbox/invoices/{live['id']}/simulate", json={"status": "paid"})
    assert (resp.status_code, resp.json["error"]) == (409, "not_sandbox")
    inv = kaspi.invoice()
    kaspi.post(f"/v1/sandbox/invoices/{inv['id']}/simulate", json={"status": "paid"})
    for status in ("pending", "canceled", "paid"):
        assert (
            kaspi.post(
                f"/v1/sandbox/invoices/{inv['id']}/simulate", json={"status": status}
            ).status_code
            == 409
        )
    assert (
        kaspi.post(
            f"/v1/sandbox/invoices/{inv['id']}/simulate", json={"status": "lost"}
        ).status_code
        == 400
    )


def test_audit_log_names_every_payment_action(kaspi: KaspiClient) -> None:
    inv = kaspi.invoice()
    kaspi.post(f"/v1/invoices/{inv['id']}/cancel")
    other = kaspi.invoice()
    kaspi.post(f"/v1/sandbox/invoices/{other['id']}/simulate", json={"status": "paid"})
    kaspi.post(f"/v1/invoices/{other['id']}/refund", json={"amount": 1})
    log = kaspi.get("/v1/audit-logs").json
    assert [e["action"] for e in log["items"]] == [
        "invoice.refund",
        "invoice.simulate",
        "invoice.create",
        "invoice.cancel",
        "invoice.create",
    ]
    assert log["items"][-1]["object_id"] == inv["id"]
    assert log["items"][-1]["actor"] == {"type": "api_key", "id": KEY_A[:14] + "…"}
    assert kaspi.get(f"/v1/audit-logs?object_id={inv['id']}").json["pagination"]["total"] == 2
    assert kaspi.get("/v1/audit-logs", key=KEY_B).json["items"] == []


def test_qr_is_created_idempotently_and_validated(kaspi: KaspiClient, rt: Runtime) -> None:
    body = {
        "amount": 2500,
        "comment": "Касса 1",
        "latitude": 43.238949,
        "longitude": 76.889709,
        "is_sandbox": True,
    }
    first = kaspi.post("/v1/qr", json=body, headers={"Idempotency-Key": "qr-1"})
    again = kaspi.post("/v1/qr", json=body, headers={"Idempotency-Key": "qr-1"})
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert first.json["id"].startswith("qr_") and first.json["amount"] == "2500.00"
    assert kaspi.post("/v1/qr", json={**body, "latitude": 91}).status_code == 400
    assert kaspi.post("/v1/qr", json={"comment": "x"}).status_code == 400
    assert kaspi.post("/v1/qr", key=KEY_OFF, json=body).status_code == 409
    rt.advance(5)
    assert "qr.paid" in _events(rt)
