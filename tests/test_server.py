"""Behaviour that needs a real server: SSE, webhooks, concurrency, durability across kill -9."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import requests

from harness.simproc import SimulatorProcess
from simulator.core.signing import sign, verify
from tests.conftest import ENGINES, FF, KEY_A1, KEY_B, SECRET_A1, database
from tests.receiver import running_receiver

pytestmark = pytest.mark.server
H = {"Authorization": f"Bearer {KEY_A1}"}


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def sim(request: pytest.FixtureRequest, engine: str) -> Iterator[SimulatorProcess]:
    db = database(request, engine)
    extra = ["--sse-heartbeat", "0.5", "--threads", "64"]
    with SimulatorProcess(db_path=db, extra_args=extra) as proc:
        yield proc


@pytest.fixture(autouse=True)
def _reset(sim: SimulatorProcess) -> None:
    requests.post(f"{sim.url}/_sim/reset", timeout=5).raise_for_status()


def _create(
    sim: SimulatorProcess,
    body: dict[str, object],
    headers: dict[str, str] | None = None,
    key: str = KEY_A1,
) -> requests.Response:
    return requests.post(
        f"{sim.url}{FF}/payments",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
    )


def test_fifty_concurrent_requests_with_one_key_create_one_payment(sim: SimulatorProcess) -> None:
    body = {"amount": 5000, "order_id": "RACE-1"}
    with ThreadPoolExecutor(50) as pool:
        responses = list(
            pool.map(lambda _: _create(sim, body, {"Idempotency-Key": "race"}), range(50))
        )
    ids = {r.json()["payment"]["id"] for r in responses}
    codes = sorted(r.status_code for r in responses)
    assert len(ids) == 1
    assert codes.count(201) == 1 and codes.count(200) == 49
    events = requests.get(f"{sim.url}/_sim/events?api=freefin", timeout=5).json()["items"]
    assert sum(e["kind"] == "payment.created" for e in events) == 1


def test_concurrent_partial_refunds_never_exceed_the_amount(sim: SimulatorProcess) -> None:
    pid = _create(sim, {"amount": 10000, "metadata": {"sim_delay_ms": "0"}}).json()["payment"]["id"]
    requests.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 1}, timeout=5)
    url = f"{sim.url}{FF}/payments/{pid}/refund"
    with ThreadPoolExecutor(30) as pool:
        responses = list(
            pool.map(
                lambda _: requests.post(url, json={"amount": 700}, headers=H, timeout=10), range(30)
            )
        )
    accepted = [r for r in responses if r.status_code == 201]
    assert len(accepted) == 14  # 14 * 700 = 9800; the 15th would be 10500
    assert {r.status_code for r in responses} == {201, 422}
    payment = requests.get(f"{FF.join([sim.url, ''])}/payments/{pid}", headers=H, timeout=5)
    assert payment.json()["amount_refunded"] == 9800


def test_sse_streams_events_with_ids_heartbeats_and_resume(sim: SimulatorProcess) -> None:
    stream = requests.get(f"{sim.url}{FF}/events", headers=H, stream=True, timeout=10)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    lines = stream.iter_lines(decode_unicode=True)
    assert next(lines) == ": connected"
    pid = _create(sim, {"amount": 100}).json()["payment"]["id"]
    _create(sim, {"amount": 100}, key=KEY_B)  # another merchant's event never shows
    seen: list[str] = []
    for line in lines:
        seen.append(line)
        if line.startswith("data:"):
            break
    data = json.loads(seen[-1][len("data: ") :])
    assert data["kind"] == "payment.created" and data["payload"]["id"] == pid
    first_id = next(s for s in seen if s.startswith("id: "))[4:]
    assert "event: payment.created" in seen
    ping = next(line for line in lines if line.startswith(":"))
    assert ping == ": ping"
    stream.close()
    # resume: everything after first_id is replayed
    requests.post(
        f"{sim.url}/_sim/transition",
        json={"api": "freefin", "object": "payment", "id": pid, "status": "cancelled"},
        timeout=5,
    )
    again = requests.get(
        f"{sim.url}{FF}/events", headers={**H, "Last-Event-ID": first_id}, stream=True, timeout=10
    )
    kinds = []
    for line in again.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            kinds.append(line[7:])
        if len(kinds) == 2:
            break
    again.close()
    assert kinds == ["payment.status_changed", "payment.cancelled"]


def test_many_concurrent_streams(sim: SimulatorProcess) -> None:
    streams = [
        requests.get(f"{sim.url}{FF}/events", headers=H, stream=True, timeout=10) for _ in range(20)
    ]
    try:
        _create(sim, {"amount": 100})
        for stream in streams:
            lines = stream.iter_lines(decode_unicode=True)
            assert any(
                line == "event: payment.created" for _, line in zip(range(6), lines, strict=False)
            )
    finally:
        for stream in streams:
            stream.close()


def test_webhooks_are_signed_and_retried_then_delivered(sim: SimulatorProcess) -> None:
    with running_receiver() as receiver:
        receiver.fail_first = 2
        body = {"amount": 100, "webhook_url": receiver.url, "metadata": {"sim_outcome": "pending"}}
        pid = _create(sim, body).json()["payment"]["id"]
        receiver.wait_for(1)
        requests.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 4}, timeout=5)
        time.sleep(0.3)
        assert len(receiver.deliveries) == 1  # the first retry is due 5 s after the failure
        requests.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 2}, timeout=5)
        receiver.wait_for(2)
        requests.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 31}, timeout=5)
        receiver.wait_for(3)
        requests.post(
            f"{sim.url}/_sim/transition",
            json={"api": "freefin", "object": "payment", "id": pid, "status": "succeeded"},
            timeout=5,
        )
        # created x3, status_changed x2 (processing, succeeded), succeeded
        got = receiver.wait_for(6)
        for delivery in got:
            signature = delivery["headers"]["X-Freefin-Signature"]
            assert verify(SECRET_A1, delivery["body"], signature)
            assert not verify("other-secret", delivery["body"], signature)
        time.sleep(0.3)
        log = requests.get(f"{sim.url}/_sim/webhooks/deliveries?api=freefin", timeout=5).json()[
            "items"
        ]
        created = next(d for d in log if d["kind"] == "payment.created")
        assert created["status"] == "delivered" and created["attempts"] == 3
        assert [h["response_code"] for h in created["history"]] == [500, 500, 200]
        kinds = sorted(json.loads(d["body"])["kind"] for d in got[3:])
        assert kinds == ["payment.status_changed", "payment.status_changed", "payment.succeeded"]
        assert len({json.loads(d["body"])["id"] for d in got}) == 4


def test_dead_letter_after_the_last_attempt(sim: SimulatorProcess) -> None:
    requests.post(f"{sim.url}/_sim/webhooks/config", json={"retry_schedule": [0, 1, 1]}, timeout=5)
    try:
        with running_receiver() as receiver:
            receiver.fail_first = 100
            requests.post(
                f"{sim.url}/_sim/webhooks/endpoint",
                json={
                    "api": "freefin",
                    "terminal_id": "0b6a3f12-9c4d-4e8a-b1f7-5d2c8e9a4b01",
                    "url": receiver.url,
                },
                timeout=5,
            )
            _create(sim, {"amount": 100, "metadata": {"sim_outcome": "pending"}})
            receiver.wait_for(1)
            for _ in range(3):
                requests.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 1.5}, timeout=5)
                time.sleep(0.3)
            receiver.wait_for(3)
            time.sleep(0.3)
            log = requests.get(f"{sim.url}/_sim/webhooks/deliveries?status=dead", timeout=5).json()[
                "items"
            ]
            assert len(log) == 1 and log[0]["attempts"] == 3
    finally:
        requests.post(
            f"{sim.url}/_sim/webhooks/config",
            json={"retry_schedule": [0, 5, 30, 120, 600, 1800]},
            timeout=5,
        )


@pytest.mark.parametrize(
    ("status", "retry_after", "waited"),
    [(429, "120", 120), (503, "120", 120), (429, "99999", 3600), (500, "120", 5), (429, "soon", 5)],
)
def test_a_receivers_retry_after_puts_the_next_attempt_off(
    sim: SimulatorProcess, status: int, retry_after: str, waited: float
) -> None:
    """A 429 or 503 with Retry-After is not tried again before then (at most an hour on); any
    other failure, or a Retry-After that says nothing, keeps the schedule (5 s after the first)."""
    with running_receiver() as receiver:
        receiver.fail_first, receiver.fail_status, receiver.retry_after = 1, status, retry_after
        _create(
            sim,
            {"amount": 100, "webhook_url": receiver.url, "metadata": {"sim_outcome": "pending"}},
        )
        receiver.wait_for(1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            items = requests.get(
                f"{sim.url}/_sim/webhooks/deliveries?status=retrying", timeout=5
            ).json()["items"]
            mine = [d for d in items if d["url"] == receiver.url]
            if mine:
                break
            time.sleep(0.05)
        assert mine, "the failed delivery is not retrying"
        first = mine[0]["history"][0]
        planned = datetime.fromisoformat(mine[0]["next_attempt_at"])
        assert planned - datetime.fromisoformat(first["at"]) == pytest.approx(
            timedelta(seconds=waited), abs=timedelta(seconds=0.01)
        )
        assert first.get("retry_after_s") == (None if waited == 5 else waited)
        # sent again by hand, it goes at once and is delivered
        requests.post(
            f"{sim.url}/_sim/webhooks/deliveries/{mine[0]['id']}/retry", timeout=5
        ).raise_for_status()
        receiver.wait_for(2)


def test_dropped_connection_fault(sim: SimulatorProcess) -> None:
    requests.post(
        f"{sim.url}/_sim/faults", json={"path": "/banks/sbp", "kind": "drop", "count": 1}, timeout=5
    )
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(f"{sim.url}{FF}/banks/sbp", headers=H, timeout=5)
    assert requests.get(f"{sim.url}{FF}/banks/sbp", headers=H, timeout=5).status_code == 200


def test_acknowledged_writes_and_pending_webhooks_survive_kill_9(
    request: pytest.FixtureRequest, engine: str
) -> None:
    db = database(request, engine)
    with running_receiver() as receiver, SimulatorProcess(db_path=db) as sim:
        receiver.fail_first = 1
        ids = [
            _create(
                sim,
                {
                    "amount": 100 + i,
                    "webhook_url": receiver.url,
                    "metadata": {"sim_outcome": "pending"},
                },
            ).json()["payment"]["id"]
            for i in range(20)
        ]
        receiver.wait_for(1)
        sim.kill()
        receiver.fail_first = 0
        sim.start()
        for pid in ids:
            got = requests.get(f"{sim.url}{FF}/payments/{pid}", headers=H, timeout=5)
            assert got.status_code == 200
        requests.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 6}, timeout=5)
        # at least once: a delivery in flight at the kill may arrive twice, none may be lost
        deadline = time.monotonic() + 10
        unique: set[str] = set()
        while time.monotonic() < deadline and len(unique) < 20:
            with receiver.lock:
                unique = {json.loads(d["body"])["id"] for d in receiver.deliveries}
            time.sleep(0.05)
        assert len(unique) == 20


def test_signature_helper_matches_the_spec_pattern() -> None:
    assert sign("s", b"{}").startswith("sha256=") and len(sign("s", b"{}")) == 71


def test_webhooks_go_nowhere_but_loopback_by_default() -> None:
    from simulator.core.webhooks import WebhookConfig

    cfg = WebhookConfig()
    assert cfg.allows("http://127.0.0.1:9/x") and cfg.allows("http://localhost/x")
    assert cfg.allows("http://127.3.4.5/x") and cfg.allows("http://[::1]:8/x")
    for url in (
        "https://example.com/hook",
        "http://10.0.0.1/x",
        "http://8.8.8.8/",
        "ftp://127.0.0.1/x",
        "http:///nohost",
        "not a url",
    ):
        assert not cfg.allows(url), url
    # a name allowed by name is resolved, and goes where it resolves to
    assert WebhookConfig(allow_hosts=["localhost"]).allows("https://localhost/k")
    assert not WebhookConfig(allow_hosts=["hooks.partner.invalid"]).allows(
        "https://hooks.partner.invalid/k"
    )


def test_blocked_destination_is_dead_at_once_without_traffic(sim: SimulatorProcess) -> None:
    _create(
        sim,
        {
            "amount": 100,
            "webhook_url": "https://example.com/hook",
            "metadata": {"sim_outcome": "pending"},
        },
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = requests.get(f"{sim.url}/_sim/webhooks/deliveries", timeout=5).json()["items"]
        if log and log[0]["status"] == "dead":
            break
        time.sleep(0.05)
    assert log[0]["status"] == "dead" and log[0]["last_error"] == "destination not allowed"
