"""Every kaspi.* defect breaks one check of these tests: each check passes on the clean
simulator and fails with its defect switched on (the checks have teeth)."""

from __future__ import annotations

import json
from collections.abc import Callable

import jsonschema
import pytest
from flask import Flask

from simulator.core.runtime import Runtime
from simulator.core.signing import verify
from simulator.kaspi.defects import CATALOG
from tests.kaspi_client import KEY_B, KEY_OFF, KEY_SLOW, PHONE, KaspiClient
from tests.receiver import running_receiver

Check = Callable[[KaspiClient, Runtime], None]


def _paid(kaspi: KaspiClient) -> str:
    inv = kaspi.invoice(amount=100)
    kaspi.post(f"/v1/sandbox/invoices/{inv['id']}/simulate", json={"status": "paid"})
    return str(inv["id"])


def get_is_200(kaspi: KaspiClient, rt: Runtime) -> None:
    kaspi.get(f"/v1/invoices/{kaspi.invoice()['id']}")  # the client checks the status


def amounts_are_strings(kaspi: KaspiClient, rt: Runtime) -> None:
    kaspi.invoice(amount=10000)  # checked against Money: "^\d+\.\d{2}$"


def create_has_payment_url(kaspi: KaspiClient, rt: Runtime) -> None:
    assert "payment_url" in kaspi.invoice()


def no_500_without_order_id(kaspi: KaspiClient, rt: Runtime) -> None:
    kaspi.post("/v1/invoices", json={"amount": 1, "phone_number": PHONE})


def get_needs_a_key(kaspi: KaspiClient, rt: Runtime) -> None:
    inv = kaspi.invoice()
    assert kaspi.get(f"/v1/invoices/{inv['id']}", key=None).status_code == 401


def replay_creates_nothing(kaspi: KaspiClient, rt: Runtime) -> None:
    for _ in range(2):
        kaspi.invoice(headers={"Idempotency-Key": "same"})
    assert kaspi.get("/v1/invoices").json["pagination"]["total"] == 1


def refund_within_amount(kaspi: KaspiClient, rt: Runtime) -> None:
    resp = kaspi.post(f"/v1/invoices/{_paid(kaspi)}/refund", json={"amount": 100.01})
    assert resp.status_code == 409


def retry_after_on_429(kaspi: KaspiClient, rt: Runtime) -> None:
    for _ in range(5):
        kaspi.get("/v1/me", key=KEY_SLOW)


def errors_in_the_envelope(kaspi: KaspiClient, rt: Runtime) -> None:
    kaspi.get("/v1/invoices/inv_nope")


def merchants_isolated(kaspi: KaspiClient, rt: Runtime) -> None:
    assert kaspi.get(f"/v1/invoices/{kaspi.invoice()['id']}", key=KEY_B).status_code == 404


def cancel_only_open(kaspi: KaspiClient, rt: Runtime) -> None:
    assert kaspi.post(f"/v1/invoices/{_paid(kaspi)}/cancel").status_code == 409


def simulate_only_sandbox(kaspi: KaspiClient, rt: Runtime) -> None:
    live = kaspi.invoice(is_sandbox=False)
    resp = kaspi.post(f"/v1/sandbox/invoices/{live['id']}/simulate", json={"status": "paid"})
    assert resp.status_code == 409


def simulate_pending_holds(kaspi: KaspiClient, rt: Runtime) -> None:
    held = kaspi.invoice()
    resp = kaspi.post(f"/v1/sandbox/invoices/{held['id']}/simulate", json={"status": "pending"})
    assert resp.status_code == 200
    rt.advance(60)
    assert kaspi.get(f"/v1/invoices/{held['id']}").json["status"] == "pending"


def webhooks_signed(kaspi: KaspiClient, rt: Runtime) -> None:
    with running_receiver() as receiver:
        endpoint = kaspi.post(
            "/v1/webhooks", json={"url": receiver.url, "events": ["webhook.test"]}
        ).json
        kaspi.post(f"/v1/webhooks/{endpoint['id']}/test")
        rt.tick()
        [delivery] = receiver.wait_for(1)
    signature = delivery["headers"].get("X-Arzan-Signature", "")
    assert verify(endpoint["secret"], delivery["body"], signature)
    assert json.loads(delivery["body"])["event"] == "webhook.test"


def keys_scoped_to_the_merchant(kaspi: KaspiClient, rt: Runtime) -> None:
    mine = kaspi.invoice(headers={"Idempotency-Key": "shared"})
    theirs = kaspi.invoice(key=KEY_B, headers={"Idempotency-Key": "shared"})
    assert mine["id"] != theirs["id"]


def refusals_spend_no_key(kaspi: KaspiClient, rt: Runtime) -> None:
    headers = {"Idempotency-Key": "again"}
    bad = kaspi.post("/v1/invoices", json={"amount": 7, "phone_number": "123"}, headers=headers)
    assert bad.status_code == 400
    assert (
        kaspi.post(
            "/v1/invoices", json={"amount": 7, "phone_number": PHONE}, headers=headers
        ).status_code
        == 201
    )


def refund_only_paid(kaspi: KaspiClient, rt: Runtime) -> None:
    pending = kaspi.invoice(amount=16.16)
    assert kaspi.post(f"/v1/invoices/{pending['id']}/refund").status_code == 409


def every_period_billed(kaspi: KaspiClient, rt: Runtime) -> None:
    kaspi.post(
        "/v1/subscriptions", json={"phone_number": PHONE, "amount": 5, "billing_period": "daily"}
    )
    rt.advance(86400 + 1)
    assert kaspi.get("/v1/subscriptions").json["items"][0]["periods_billed"] == 2


def pages_and_filters(kaspi: KaspiClient, rt: Runtime) -> None:
    first, _second = kaspi.invoice(amount=16.16), kaspi.invoice(amount=17.17)
    page = kaspi.get("/v1/invoices?page=2&page_size=1").json
    assert [i["id"] for i in page["items"]] == [first["id"]]
    assert kaspi.get("/v1/invoices?status=paid").json["items"] == []


def unknown_ids_not_found(kaspi: KaspiClient, rt: Runtime) -> None:
    result = kaspi.post("/v1/invoices/status/check", json={"ids": ["inv_nope"]}).json
    assert result["not_found"] == ["inv_nope"] and not result["items"][0]["found"]


def connection_required(kaspi: KaspiClient, rt: Runtime) -> None:
    resp = kaspi.post("/v1/invoices", key=KEY_OFF, json={"amount": 1, "phone_number": PHONE})
    assert resp.status_code == 409


def amount_type_checked(kaspi: KaspiClient, rt: Runtime) -> None:
    resp = kaspi.post("/v1/invoices", json={"amount": "100", "phone_number": PHONE})
    assert resp.status_code == 400


def refunded_never_negative(kaspi: KaspiClient, rt: Runtime) -> None:
    assert kaspi.invoice()["refunded_amount"] == "0.00"


def phone_number_checked(kaspi: KaspiClient, rt: Runtime) -> None:
    resp = kaspi.post("/v1/invoices", json={"amount": 7, "phone_number": "123"})
    assert resp.status_code == 400


def order_id_optional(kaspi: KaspiClient, rt: Runtime) -> None:
    kaspi.invoice()  # no external_order_id: 201 expected


def invoice_read_is_json(kaspi: KaspiClient, rt: Runtime) -> None:
    resp = kaspi.get(f"/v1/invoices/{kaspi.invoice()['id']}")
    assert resp.content_type.startswith("application/json"), resp.content_type


def invoice_readable_at_once(kaspi: KaspiClient, rt: Runtime) -> None:
    assert kaspi.get(f"/v1/invoices/{kaspi.invoice()['id']}").status_code == 200


def undeclared_method_is_405_with_allow(kaspi: KaspiClient, rt: Runtime) -> None:
    resp = kaspi.client.delete("/api/v1/invoices", headers={"X-API-Key": KEY_B})
    assert resp.status_code == 405 and "POST" in resp.headers.get("Allow", "")


def options_lists_the_paths_methods(kaspi: KaspiClient, rt: Runtime) -> None:
    resp = kaspi.client.options("/api/v1/invoices", headers={"X-API-Key": KEY_B})
    allowed = {m.strip() for m in resp.headers.get("Allow", "").split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS", "POST"}, allowed


CHECKS: dict[str, Check] = {
    "kaspi.undocumented_status": get_is_200,
    "kaspi.wrong_type": amounts_are_strings,
    "kaspi.amount_format": amounts_are_strings,
    "kaspi.missing_required": create_has_payment_url,
    "kaspi.server_error": no_500_without_order_id,
    "kaspi.auth_ignored": get_needs_a_key,
    "kaspi.idempotency_duplicate": replay_creates_nothing,
    "kaspi.refund_over_remainder": refund_within_amount,
    "kaspi.no_retry_after": retry_after_on_429,
    "kaspi.wrong_error_envelope": errors_in_the_envelope,
    "kaspi.isolation_broken": merchants_isolated,
    "kaspi.cancel_any_status": cancel_only_open,
    "kaspi.simulate_non_sandbox": simulate_only_sandbox,
    "kaspi.simulate_pending_ignored": simulate_pending_holds,
    "kaspi.webhook_unsigned": webhooks_signed,
    "kaspi.webhook_bad_signature": webhooks_signed,
    "kaspi.idempotency_global_scope": keys_scoped_to_the_merchant,
    "kaspi.idempotency_stores_errors": refusals_spend_no_key,
    "kaspi.refund_any_status": refund_only_paid,
    "kaspi.subscription_not_billed": every_period_billed,
    "kaspi.pagination_broken": pages_and_filters,
    "kaspi.status_check_unknown_found": unknown_ids_not_found,
    "kaspi.connection_ignored": connection_required,
    "kaspi.amount_coerced": amount_type_checked,
    "kaspi.negative_money": refunded_never_negative,
    "kaspi.negative_data_accepted": phone_number_checked,
    "kaspi.valid_data_refused": order_id_optional,
    "kaspi.content_type_wrong": invoice_read_is_json,
    "kaspi.resource_unavailable": invoice_readable_at_once,
    "kaspi.method_not_405": undeclared_method_is_405_with_allow,
    "kaspi.allow_header_wrong": options_lists_the_paths_methods,
}


# The defects of events, refusals and the audit log are caught by the scenario suites
# (tests/test_scenario_teeth.py).
EVENT_DEFECTS = {
    "kaspi.events_out_of_order",
    "kaspi.event_id_reused",
    "kaspi.refusal_swallowed",
    "kaspi.audit_silent",
}


def test_every_defect_has_a_check() -> None:
    assert set(CHECKS) == set(CATALOG) - EVENT_DEFECTS


def test_defects_are_listed_by_the_control_api(app: Flask) -> None:
    catalog = app.test_client().get("/_sim/defects").get_json()["catalog"]
    assert set(CATALOG) <= set(catalog)


@pytest.mark.parametrize("defect", sorted(CHECKS))
def test_the_check_passes_clean_and_fails_with_the_defect(
    app: Flask,
    rt: Runtime,
    defect: str,
) -> None:
    kaspi = KaspiClient(app.test_client())
    CHECKS[defect](kaspi, rt)
    rt.reset()
    rt.defects.enable(defect)
    with pytest.raises((AssertionError, jsonschema.ValidationError)):
        CHECKS[defect](kaspi, rt)
