"""What the simulator keeps stays bounded: events, deliveries, idempotency records and the client
log pruned by age (a week of simulated time) and by count; refused credentials counted, not
logged; distinct keys named apart; the client log cleared by a reset that asks for it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask

from simulator.app import create_app
from simulator.core.engines import open_store
from simulator.core.retention import Retention, prune
from simulator.core.runtime import Runtime
from simulator.grading import client_log
from tests.conftest import ENGINES, FF, KEY_A1, SpecClient, create_payment, database

DAY = 24 * 3600.0


@pytest.fixture
def graded() -> Iterator[Flask]:
    app = create_app({"TICKER": False, "GRADE_CLIENTS": True})
    yield app
    app.extensions["paysim.runtime"].stop()


def _count(rt: Runtime, table: str) -> int:
    with rt.store.read() as tx:
        return int(tx.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_a_week_of_simulated_time_is_kept_and_what_is_older_pruned(
    graded: Flask,
) -> None:
    rt: Runtime = graded.extensions["paysim.runtime"]
    api = SpecClient(graded.test_client())
    create_payment(api, order_id="old")
    api.client.post("/_sim/clock/advance", json={"seconds": 60})  # its transitions, done
    assert _count(rt, "events") > 0 and _count(rt, "client_requests") == 1
    assert api.client.post("/_sim/clock/advance", json={"seconds": 6 * DAY}).status_code == 200
    assert _count(rt, "events") > 0 and _count(rt, "client_requests") == 1
    assert api.client.post("/_sim/clock/advance", json={"seconds": 2 * DAY}).status_code == 200
    assert _count(rt, "events") == 0
    assert _count(rt, "idempotency") == 0  # expired after a day
    assert _count(rt, "client_requests") == 1  # on the wall clock: a day old at most
    page = api.client.get("/_sim/ui/").get_data(as_text=True)
    assert 'id="pruned"' in page and "events" in page and "7 days" in page


def test_past_the_cap_the_oldest_rows_go(graded: Flask) -> None:
    rt: Runtime = graded.extensions["paysim.runtime"]
    rt.retention = replace(rt.retention, max_rows=4)
    api = SpecClient(graded.test_client())
    for n in range(6):
        create_payment(api, order_id=f"o{n}")
    before = _count(rt, "events")
    with rt.store.read() as tx:
        newest = [r[0] for r in tx.execute("SELECT seq FROM events ORDER BY seq DESC LIMIT 4")]
    gone = rt.prune()
    assert gone["events"] == before - 4 and gone["client_requests"] == 2
    with rt.store.read() as tx:
        kept = [r[0] for r in tx.execute("SELECT seq FROM events ORDER BY seq DESC")]
    assert kept == newest and _count(rt, "client_requests") == 4


def test_the_ticker_prunes_now_and_then(graded: Flask) -> None:
    rt: Runtime = graded.extensions["paysim.runtime"]
    rt.retention = replace(rt.retention, max_rows=1, every_s=0.0)
    api = SpecClient(graded.test_client())
    create_payment(api, order_id="a")
    create_payment(api, order_id="b")
    rt.tick()
    assert _count(rt, "events") == 1 and _count(rt, "client_requests") == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_deliveries_once_final_and_the_client_log_by_its_own_clock(
    request: pytest.FixtureRequest, engine: str
) -> None:
    store = open_store(database(request, engine, ":memory:") or ":memory:")
    with store.tx() as tx:
        for n, status in enumerate(["delivered", "dead", "retrying", "queued"] * 3):
            tx.execute(
                "INSERT INTO deliveries (id, api, owner, event_id, kind, url, headers, body, "
                "status, history, created_at) VALUES (?, 'freefin', 'm', 'e', 'k', 'u', '{}', "
                "'{}', ?, '[]', ?)",
                (f"d{n}", status, 0.0 if n < 4 else 100 * DAY),
            )
        for at in [0.0, 4 * DAY, 9 * DAY]:
            tx.execute(
                "INSERT INTO client_requests (api, client, operation, method, url, headers, "
                "body, body_hash, status, at) VALUES ('freefin', 'c', '', 'GET', '/', '{}', '', "
                "'', 200, ?)",
                (at,),
            )
    gone = prune(store, 100 * DAY, 10 * DAY, Retention(max_rows=2))
    with store.read() as tx:
        left = sorted(r[0] for r in tx.execute("SELECT status FROM deliveries"))
    # of the first four, older than a week, the final two go; of the final rest, all but the
    # newest two; nothing still retrying or queued, whatever its age
    assert left == ["dead", "delivered", *["queued"] * 3, *["retrying"] * 3]
    assert gone["deliveries"] == 4
    assert gone["events"] == gone["idempotency"] == 0
    assert gone["client_requests"] == 1  # older than a week of the wall clock: the first
    with store.read() as tx:
        assert [r[0] for r in tx.execute("SELECT at FROM client_requests")] == [4 * DAY, 9 * DAY]
    store.close()


def test_refused_credentials_are_counted_not_logged(graded: Flask) -> None:
    rt: Runtime = graded.extensions["paysim.runtime"]
    client = graded.test_client()
    for _ in range(50):
        bad = f"sk_test_{uuid.uuid4().hex[:6]}_{uuid.uuid4().hex}"
        assert (
            client.get(f"{FF}/banks/sbp", headers={"Authorization": f"Bearer {bad}"}).status_code
            == 401
        )
    assert _count(rt, "client_requests") == 0
    report = client.get("/_sim/clients/report").json
    assert report["refused"] == {"freefin": 50} and report["clients"] == []
    page = client.get("/_sim/ui/clients").get_data(as_text=True)
    assert 'id="refused"' in page and "freefin 50" in page
    client.delete("/_sim/clients/report")
    assert client.get("/_sim/clients/report").json["refused"] == {}


def test_distinct_keys_keep_distinct_labels() -> None:
    keys = {f"sk_test_abcdef_{uuid.uuid4().hex}XYZW" for _ in range(2000)}
    keys |= {uuid.uuid4().hex[:10] for _ in range(2000)}  # short keys: only the digest shows
    labels = {client_log.masked(key) for key in keys}
    assert len(labels) == len(keys)
    for key in keys:
        assert key not in client_log.masked(key) and key[4:] not in client_log.masked(key)
    assert client_log.masked(f"Bearer {KEY_A1}") == client_log.masked(KEY_A1)


def test_a_reset_clears_the_client_log_only_when_asked(graded: Flask) -> None:
    rt: Runtime = graded.extensions["paysim.runtime"]
    api = SpecClient(graded.test_client())
    create_payment(api)
    assert api.client.post("/_sim/reset").status_code == 200
    assert _count(rt, "client_requests") == 1
    assert api.client.post("/_sim/reset", json={"client_log": False}).status_code == 200
    assert _count(rt, "client_requests") == 1
    assert api.client.post("/_sim/reset", json={"client_log": "yes"}).status_code == 400
    assert api.client.post("/_sim/reset", json={"client_log": True}).status_code == 200
    assert _count(rt, "client_requests") == 0
    assert api.client.get("/_sim/clients/report").json["clients"] == []


def test_the_exam_keeps_nothing_of_unknown_keys() -> None:
    app = create_app({"TICKER": False, "EXAM": True})
    try:
        client = app.test_client()
        for _ in range(30):
            bad = {"Authorization": f"Bearer sk_test_{uuid.uuid4().hex[:6]}_{uuid.uuid4().hex}"}
            body = {"amount": 1000, "order_id": "x"}
            assert client.post(f"{FF}/payments", json=body, headers=bad).status_code == 401
        rt: Runtime = app.extensions["paysim.runtime"]
        assert _count(rt, "client_exam") == 0 and _count(rt, "client_requests") == 0
    finally:
        app.extensions["paysim.runtime"].stop()
