"""What the simulator keeps stays bounded: events, deliveries, idempotency records and the client
log pruned by age (a week of simulated time) and by count; refused credentials counted, not
logged; distinct keys named apart; the client log cleared by a reset that asks for it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from harness.simproc import free_port
from simulator.__main__ import app_config
from simulator.__main__ import parse_args as serve_args
from simulator.app import create_app
from simulator.core import retention, webhooks
from simulator.core.engines import open_store
from simulator.core.retention import Retention, prune, pruned
from simulator.core.runtime import Runtime
from simulator.core.store import Store, Tx
from simulator.core.webhooks import GIVEN_UP_AGE
from simulator.grading import client_log
from simulator.proxy import create_proxy
from simulator.proxy import parse_args as proxy_args
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


def test_objects_go_by_count_only_the_oldest_first(graded: Flask) -> None:
    """However far the clock moves, a payment stays; past the objects' cap the oldest goes, and
    reading it answers 404 in the API's envelope."""
    rt: Runtime = graded.extensions["paysim.runtime"]
    api = SpecClient(graded.test_client())
    made = [create_payment(api, order_id=f"o{n}")["id"] for n in range(3)]
    assert api.client.post("/_sim/clock/advance", json={"seconds": 30 * DAY}).status_code == 200
    assert _count(rt, "objects") == 3
    rt.retention = replace(rt.retention, max_objects=2)
    assert rt.prune()["objects"] == 1
    gone = api.request("GET", f"{FF}/payments/{made[0]}")
    assert gone.status_code == 404 and gone.json["error"]["code"] == "not_found"
    kept = [api.request("GET", f"{FF}/payments/{pid}").status_code for pid in made[1:]]
    assert kept == [200, 200]
    page = api.client.get("/_sim/ui/").get_data(as_text=True)
    assert 'id="pruned"' in page and "objects" in page


def test_the_ticker_prunes_now_and_then(graded: Flask) -> None:
    rt: Runtime = graded.extensions["paysim.runtime"]
    rt.retention = replace(rt.retention, max_rows=1, every_s=0.0)
    api = SpecClient(graded.test_client())
    create_payment(api, order_id="a")
    create_payment(api, order_id="b")
    rt.tick()
    assert _count(rt, "events") == 1 and _count(rt, "client_requests") == 1


def _delivery(
    tx: Tx, n: int, status: str, created: float, final: float | None = None, due: float = 0.0
) -> None:
    tx.execute(
        "INSERT INTO deliveries (id, api, owner, event_id, kind, url, headers, body, status, "
        "history, created_at, final_at, next_at) VALUES (?, 'freefin', 'm', 'e', 'k', "
        "'http://127.0.0.1:9/', '{}', '{}', ?, '[]', ?, ?, ?)",
        (f"d{n:06d}", status, created, final, due or created),
    )


def _statuses(store: Store) -> dict[str, str]:
    with store.read() as tx:
        rows = tx.execute("SELECT id, status, last_error FROM deliveries ORDER BY id").fetchall()
    return {r[0]: f"{r[1]}: {r[2]}" if r[2] else r[1] for r in rows}


@pytest.mark.parametrize("engine", ENGINES)
def test_deliveries_final_a_week_go_and_those_unsent_are_given_up_first(
    request: pytest.FixtureRequest, engine: str
) -> None:
    store = open_store(database(request, engine, ":memory:") or ":memory:")
    now = 100 * DAY
    with store.tx() as tx:
        _delivery(tx, 0, "delivered", 0.0, 0.0)  # final for long: goes
        _delivery(tx, 1, "dead", 0.0, now - DAY)  # made long ago, final a day: kept
        _delivery(tx, 2, "retrying", 0.0)  # unsent past the age: given up, kept a week more
        _delivery(tx, 3, "queued", 0.0)
        _delivery(tx, 4, "sending", 0.0)  # its sender's until it records the attempt
        _delivery(tx, 5, "retrying", now - DAY)  # young: left to the sender
        _delivery(tx, 6, "delivered", now - DAY, now - DAY)
    gone = prune(store, now, now, Retention())
    assert gone["deliveries"] == 1 and gone["given_up"] == 2
    assert _statuses(store) == {
        "d000001": "dead",
        "d000002": f"dead: {GIVEN_UP_AGE}",
        "d000003": f"dead: {GIVEN_UP_AGE}",
        "d000004": "sending",
        "d000005": "retrying",
        "d000006": "delivered",
    }
    later = prune(store, now + 8 * DAY, now, Retention())  # a week on: those final go
    assert later["deliveries"] == 4 and later["given_up"] == 1  # the young one, now old
    assert _statuses(store) == {"d000004": "sending", "d000005": f"dead: {GIVEN_UP_AGE}"}
    assert pruned(store)["deliveries"] == {"rows": 5, "given_up": 3, "last_at": now + 8 * DAY}
    store.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_past_the_cap_deliveries_unsent_are_given_up_and_go(
    request: pytest.FixtureRequest, engine: str
) -> None:
    store = open_store(database(request, engine, ":memory:") or ":memory:")
    with store.tx() as tx:
        for n, status in enumerate(["delivered", "queued", "retrying", "dead"] * 3):
            _delivery(
                tx, n, status, float(n), float(n) if status in ("delivered", "dead") else None
            )
    gone = prune(store, 12.0, 12.0, Retention(max_rows=5))
    # the newest five kept, whatever their status; of the older seven, the four unsent given up
    assert gone["given_up"] == 4 and gone["deliveries"] == 7
    assert _statuses(store) == {
        "d000007": "dead",
        "d000008": "delivered",
        "d000009": "queued",
        "d000010": "retrying",
        "d000011": "dead",
    }
    store.close()


def _sender_behind(store: Store, keep: Retention, passes: int = 30) -> int:
    """Deliveries written faster than anyone sends them (no sender at all), a pruning pass after
    each batch while the simulated clock moves a day a pass: the most rows the table held."""
    most, n = 0, 0
    for day in range(passes):
        with store.tx() as tx:
            for _ in range(20):
                _delivery(tx, n, "queued", day * DAY)
                n += 1
        prune(store, day * DAY, day * DAY, keep)
        with store.read() as tx:
            most = max(most, int(tx.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]))
    return most


@pytest.mark.parametrize(
    "keep, bound", [(Retention(max_rows=50), 50), (Retention(max_age_s=3 * DAY), 20 * 8)]
)
def test_a_sender_that_falls_behind_grows_no_table_without_a_bound(
    keep: Retention, bound: int
) -> None:
    # by count: the cap; by age: unsent for three days and a pass (older than, strictly), then
    # given up and kept as long again: eight days' batches
    assert _sender_behind(open_store(":memory:"), keep) <= bound


def test_without_giving_up_a_sender_behind_grows_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "give_up_deliveries", lambda tx, now, before, rows: 0)
    assert _sender_behind(open_store(":memory:"), Retention(max_rows=50)) == 600
    assert _sender_behind(open_store(":memory:"), Retention(max_age_s=3 * DAY)) == 600


def test_without_pruning_the_given_up_the_table_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "TABLES", retention.TABLES[:1] + retention.TABLES[2:])
    assert _sender_behind(open_store(":memory:"), Retention(max_rows=50)) == 600


def test_the_client_log_is_pruned_by_its_own_clock() -> None:
    store = open_store(":memory:")
    with store.tx() as tx:
        for at in [0.0, 4 * DAY, 9 * DAY]:
            tx.execute(
                "INSERT INTO client_requests (api, client, operation, method, url, headers, "
                "body, body_hash, status, at) VALUES ('freefin', 'c', '', 'GET', '/', '{}', '', "
                "'', 200, ?)",
                (at,),
            )
    gone = prune(store, 100 * DAY, 10 * DAY, Retention(), (client_log.KEPT,))
    assert gone["client_requests"] == 1  # older than a week of the wall clock: the first
    with store.read() as tx:
        assert [r[0] for r in tx.execute("SELECT at FROM client_requests")] == [4 * DAY, 9 * DAY]
    store.close()


def test_the_delivery_log_and_the_dashboard_say_what_was_given_up(graded: Flask) -> None:
    rt: Runtime = graded.extensions["paysim.runtime"]
    client = graded.test_client()
    with rt.store.tx() as tx:
        _delivery(tx, 0, "retrying", rt.clock.now(), due=rt.clock.now() + 30 * DAY)
    assert client.post("/_sim/clock/advance", json={"seconds": 8 * DAY}).status_code == 200
    items = client.get("/_sim/webhooks/deliveries").json["items"]
    assert [(d["status"], d["last_error"]) for d in items] == [("dead", GIVEN_UP_AGE)]
    page = client.get("/_sim/ui/").get_data(as_text=True)
    assert "(1 given up unsent first)" in page
    assert GIVEN_UP_AGE in client.get("/_sim/ui/deliveries").get_data(as_text=True)


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


def test_the_serve_options_set_the_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    args = serve_args(
        ["--retention-age", "3600", "--retention-rows", "10", "--retention-objects", "20"]
    )
    app = create_app({**app_config(args), "DATABASE": ":memory:", "TICKER": False})
    keep = Retention(max_age_s=3600, max_rows=10, max_objects=20)
    assert app.extensions["paysim.runtime"].retention == keep
    app.extensions["paysim.runtime"].stop()
    monkeypatch.setenv("PAYSIM_RETENTION_AGE", "60")
    assert app_config(serve_args([]))["RETENTION_AGE_S"] == 60.0
    assert app_config(serve_args([]))["RETENTION_ROWS"] == retention.MAX_ROWS


@pytest.mark.parametrize(
    "bad", [["--retention-age", "0"], ["--retention-rows", "-1"], ["--retention-objects", "0"]]
)
def test_a_retention_of_nothing_is_refused(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        serve_args(bad)
    with pytest.raises(SystemExit):
        proxy_args(["--api", "freefin", "--upstream", "http://127.0.0.1:9", *bad])


def _proxied(tmp_path: Path, rows: int) -> tuple[Flask, Store]:
    """A freefin proxy before a server that is not there (each request logged with its 502),
    pruning at every request, by the options given as on its command line."""
    args = proxy_args(
        ["--api", "freefin", "--upstream", f"http://127.0.0.1:{free_port()}",
         "--retention-rows", str(rows), "--db", str(tmp_path / "proxy.db")]
    )  # fmt: skip
    app = create_proxy({"API": args.api, "UPSTREAM": args.upstream, "DATABASE": args.db,
                        **retention.settings(args)})  # fmt: skip
    pruner = app.extensions["paysim.pruner"]
    pruner.keep = replace(pruner.keep, every_s=0.0)
    return app, open_store(args.db)


def _through(app: Flask, n: int) -> None:
    client = app.test_client()
    for i in range(n):
        answer = client.get(f"{FF}/payments/pay_{i}", headers={"Authorization": f"Bearer {KEY_A1}"})
        assert answer.status_code == 502


def test_the_proxys_client_log_is_kept_by_the_same_rules(tmp_path: Path) -> None:
    app, store = _proxied(tmp_path, rows=3)
    with store.tx() as tx:  # a request older than a week
        tx.execute(
            "INSERT INTO client_requests (api, client, operation, method, url, headers, body, "
            "body_hash, status, at) VALUES ('freefin', 'c', '', 'GET', '/', '{}', '', '', 200, ?)",
            (time.time() - 8 * DAY,),
        )
    _through(app, 1)
    assert _count_in(store, "client_requests") == 1  # the old one gone, the new one kept
    _through(app, 6)
    assert _count_in(store, "client_requests") == 3
    assert pruned(store)["client_requests"]["rows"] == 5
    store.close()


def test_without_pruning_the_proxys_client_log_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "prune", lambda store, now, wall, keep, more: {})
    app, store = _proxied(tmp_path, rows=3)
    _through(app, 6)
    assert _count_in(store, "client_requests") == 6
    store.close()


def _count_in(store: Store, table: str) -> int:
    with store.read() as tx:
        return int(tx.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
