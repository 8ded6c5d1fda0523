"""Kaspi webhooks: endpoints, signed deliveries, the delivery log, retries, jobs, dead letters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from simulator.core import webhooks
from simulator.core.runtime import Runtime
from simulator.core.signing import verify
from tests.kaspi_client import KEY_B, KaspiClient, validator
from tests.receiver import Receiver, running_receiver


@pytest.fixture
def kaspi(app: Flask) -> KaspiClient:
    return KaspiClient(app.test_client())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as rec:
        yield rec


def _settle(rt: Runtime, timeout: float = 10) -> None:
    """Send what is due and wait until no attempt is in flight."""
    rt.tick()
    deadline = time.monotonic() + timeout
    while webhooks.count_deliveries(rt.store, status="sending"):
        assert time.monotonic() < deadline, "deliveries still in flight"
        time.sleep(0.02)


def _endpoint(kaspi: KaspiClient, url: str, events: list[str] | None = None) -> dict[str, Any]:
    resp = kaspi.post("/v1/webhooks", json={"url": url, "events": events or ["*"]})
    assert resp.status_code == 201, resp.json
    created: dict[str, Any] = resp.json
    return created


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.kz/x", "events": ["invoice.paid"]},
        {"url": "not a url", "events": ["invoice.paid"]},
        {"url": "https://\u00fe\u00fa\u0012", "events": ["invoice.paid"]},
        {"url": "http://example.kz:99999/", "events": ["invoice.paid"]},
        {"url": "https://example.kz/x", "events": []},
        {"url": "https://example.kz/x", "events": ["invoice.exploded"]},
        {"url": "https://example.kz/x"},
        {"url": 5, "events": ["invoice.paid"]},
    ],
)
def test_endpoints_are_validated(kaspi: KaspiClient, body: dict[str, Any]) -> None:
    resp = kaspi.post("/v1/webhooks", json=body)
    assert resp.status_code == 400 and resp.json["error"] == "validation_error"


def test_the_secret_is_shown_once(kaspi: KaspiClient) -> None:
    created = _endpoint(kaspi, "https://example.kz/hooks", ["invoice.paid", "invoice.paid"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["invoice.paid"]
    listed = kaspi.get("/v1/webhooks").json["items"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0] and created["secret"].endswith(listed[0]["secret_hint"][1:])
    assert kaspi.get("/v1/webhooks", key=KEY_B).json["items"] == []


def test_events_are_signed_per_endpoint_and_filtered(
    kaspi: KaspiClient,
    rt: Runtime,
    receiver: Receiver,
) -> None:
    everything = _endpoint(kaspi, receiver.url)
    only_paid = _endpoint(kaspi, receiver.url + "?paid", ["invoice.paid"])
    _endpoint(kaspi, receiver.url + "?qr", ["qr.*", "subscription.*"])  # gets none of these
    inv = kaspi.invoice()
    kaspi.post(f"/v1/sandbox/invoices/{inv['id']}/simulate", json={"status": "paid"})
    _settle(rt)
    got = receiver.wait_for(4)
    secrets = {everything["id"]: everything["secret"], only_paid["id"]: only_paid["secret"]}
    for delivery in got:
        headers = delivery["headers"]
        secret = secrets[headers["X-Arzan-Webhook-Id"]]
        assert verify(secret, delivery["body"], headers["X-Arzan-Signature"])
        body = json.loads(delivery["body"])
        validator("WebhookEvent").validate(body)
        assert headers["X-Arzan-Event"] == body["event"]
    kinds = sorted(
        (d["headers"]["X-Arzan-Webhook-Id"], json.loads(d["body"])["event"]) for d in got
    )
    assert kinds == sorted(
        [
            (everything["id"], "invoice.created"),
            (everything["id"], "invoice.status_changed"),
            (everything["id"], "invoice.paid"),
            (only_paid["id"], "invoice.paid"),
        ]
    )


def test_test_event_is_202_and_logged(kaspi: KaspiClient, rt: Runtime, receiver: Receiver) -> None:
    endpoint = _endpoint(kaspi, receiver.url, ["invoice.paid"])
    resp = kaspi.post(f"/v1/webhooks/{endpoint['id']}/test")
    assert resp.status_code == 202 and resp.json["status"] == "queued"
    _settle(rt)
    [delivery] = receiver.wait_for(1)
    assert json.loads(delivery["body"])["event"] == "webhook.test"
    log = kaspi.get("/v1/webhook-deliveries").json["items"]
    assert log[0]["id"] == resp.json["delivery_id"]
    assert (log[0]["status"], log[0]["attempts"], log[0]["response_code"]) == ("delivered", 1, 200)
    assert log[0]["latency_ms"] is not None
    assert kaspi.post("/v1/webhooks/wh_nope/test").status_code == 404
    assert kaspi.post(f"/v1/webhooks/{endpoint['id']}/test", key=KEY_B).status_code == 404


def test_retries_dead_letters_jobs_and_manual_retry(
    kaspi: KaspiClient,
    rt: Runtime,
    receiver: Receiver,
) -> None:
    rt.webhook_config.retry_schedule = [0, 5, 30]
    receiver.fail_first = 3
    endpoint = _endpoint(kaspi, receiver.url, ["webhook.test"])
    delivery_id = kaspi.post(f"/v1/webhooks/{endpoint['id']}/test").json["delivery_id"]
    assert kaspi.get("/v1/jobs").json["counts"]["queued"] == 1
    _settle(rt)
    jobs = kaspi.get("/v1/jobs?state=retrying").json
    assert jobs["items"][0]["delivery_id"] == delivery_id and jobs["items"][0]["attempts"] == 1
    assert jobs["items"][0]["next_run_at"] is not None
    rt.advance(5)
    _settle(rt)
    rt.advance(30)
    _settle(rt)
    dead = kaspi.get("/v1/jobs?state=dead_letter").json
    assert [j["delivery_id"] for j in dead["items"]] == [delivery_id]
    assert dead["counts"] == {"queued": 0, "running": 0, "retrying": 0, "dead_letter": 1}
    log = kaspi.get("/v1/webhook-deliveries?status=dead").json["items"][0]
    assert [h["response_code"] for h in log["history"]] == [500, 500, 500]
    retried = kaspi.post(f"/v1/webhook-deliveries/{delivery_id}/retry")
    assert retried.status_code == 202
    _settle(rt)
    assert (
        kaspi.get(f"/v1/webhook-deliveries?webhook_id={endpoint['id']}").json["items"][0]["status"]
        == "delivered"
    )
    assert kaspi.get("/v1/jobs").json["pagination"]["total"] == 0
    assert kaspi.post("/v1/webhook-deliveries/dlv_nope/retry").status_code == 404
    assert kaspi.post(f"/v1/webhook-deliveries/{delivery_id}/retry", key=KEY_B).status_code == 404
    actions = [e["action"] for e in kaspi.get("/v1/audit-logs").json["items"]]
    assert actions == ["webhook_delivery.retry", "webhook.test", "webhook.create"]
    assert kaspi.get("/v1/jobs?state=sleeping").status_code == 400
    assert kaspi.get("/v1/webhook-deliveries?status=lost").status_code == 400


def test_subscription_events_reach_a_group_subscription(
    kaspi: KaspiClient,
    rt: Runtime,
    receiver: Receiver,
) -> None:
    _endpoint(kaspi, receiver.url, ["subscription.*"])
    kaspi.post("/v1/subscriptions", json={"phone_number": "77011234567", "amount": 990})
    rt.advance(5)
    _settle(rt)
    got = receiver.wait_for(3)
    bodies = {json.loads(d["body"])["event"]: json.loads(d["body"]) for d in got}
    assert sorted(bodies) == ["subscription.billed", "subscription.created", "subscription.paid"]
    assert bodies["subscription.billed"]["data"]["invoice_id"].startswith("inv_")
