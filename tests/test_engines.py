"""The store's two engines, SQLite and a real PostgreSQL: the same migrations, the same answers,
and the guarantees that rest on the store (a key creates once, refunds stay within the amount)
held under racing clients, within one process and across two processes sharing one database."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess
from simulator.core import migrate
from simulator.core.engines import open_store
from simulator.grading import client_log
from tests.conftest import ENGINES, FF, KEY_A1, database

pytestmark = pytest.mark.server
H = {"Authorization": f"Bearer {KEY_A1}"}
KASPI = {"X-API-Key": "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"}


@pytest.fixture(scope="module", params=ENGINES)
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatorProcess]:
    with SimulatorProcess(
        db_path=database(request, request.param), extra_args=["--threads", "64"]
    ) as proc:
        yield proc


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> requests.Response:
    """A POST that waits out a 429 (the merchant's rate limit) as Retry-After says."""
    while True:
        answer = requests.post(url, json=body, headers=headers, timeout=30)
        if answer.status_code != 429:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def _create(base: str, key: str, order: str = "RACE") -> requests.Response:
    body = {"amount": 5000, "order_id": order}
    return _post(f"{base}{FF}/payments", body, {**H, "Idempotency-Key": key})


def test_a_thousand_racing_creates_with_one_key_make_one_payment(sim: SimulatorProcess) -> None:
    key, order = str(uuid.uuid4()), f"race-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: _create(sim.url, key, order), range(1000)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and codes.count(200) == 999, set(codes)
    assert len({a.json()["payment"]["id"] for a in answers}) == 1


def test_fifty_racing_refunders_stay_within_the_amount(sim: SimulatorProcess) -> None:
    paid = requests.post(
        f"{sim.url}{FF}/payments",
        json={"amount": 10000, "metadata": {"sim_delay_ms": "0"}},
        headers=H,
        timeout=10,
    ).json()["payment"]["id"]
    requests.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 1}, timeout=10)
    url = f"{sim.url}{FF}/payments/{paid}/refund"
    with ThreadPoolExecutor(50) as pool:
        answers = list(
            pool.map(
                lambda _: _post(url, {"amount": 300}, H),
                range(50),
            )
        )
    assert sum(a.status_code == 201 for a in answers) == 33  # 33 * 300 = 9900 <= 10000
    payment = requests.get(f"{sim.url}{FF}/payments/{paid}", headers=H, timeout=10).json()
    assert payment["amount_refunded"] == 9900


def test_kaspi_listing_filters_read_the_same_on_both_engines(sim: SimulatorProcess) -> None:
    base = f"{sim.url}/api/v1"
    tag = uuid.uuid4().hex[:8]
    # a stored string with U+0000 (a fuzzer sends them): PostgreSQL's jsonb refuses the escape
    requests.post(
        f"{base}/invoices",
        json={"amount": 1, "phone_number": "77011234567", "description": "nul\u0000here"},
        headers=KASPI,
        timeout=10,
    ).raise_for_status()
    for n, sandbox in enumerate((True, False, True)):
        requests.post(
            f"{base}/invoices",
            json={
                "amount": 100 + n,
                "phone_number": "77011234567",
                "external_order_id": f"{tag}-{n}",
                "is_sandbox": sandbox,
            },
            headers=KASPI,
            timeout=10,
        ).raise_for_status()
    found = requests.get(
        f"{base}/invoices?search={tag}&is_sandbox=true&status=pending", headers=KASPI, timeout=10
    ).json()
    assert sorted(i["external_order_id"] for i in found["items"]) == [f"{tag}-0", f"{tag}-2"]
    newest_first = requests.get(f"{base}/invoices?search={tag}", headers=KASPI, timeout=10).json()
    assert [i["external_order_id"] for i in newest_first["items"]] == [
        f"{tag}-2",
        f"{tag}-1",
        f"{tag}-0",
    ]


def test_two_processes_on_one_postgresql_database_create_once(
    request: pytest.FixtureRequest,
) -> None:
    """The guard is in the database: two simulators sharing one database, a key raced across
    both, one payment."""
    db = database(request, "postgresql")
    with SimulatorProcess(db_path=db) as one, SimulatorProcess(db_path=db) as two:
        key, order = str(uuid.uuid4()), f"two-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(40) as pool:
            answers = list(
                pool.map(lambda i: _create((one, two)[i % 2].url, key, order), range(200))
            )
        assert sorted({a.status_code for a in answers}) == [200, 201]
        assert len({a.json()["payment"]["id"] for a in answers}) == 1
        pid = answers[0].json()["payment"]["id"]
        seen = requests.get(f"{two.url}{FF}/payments/{pid}", headers=H, timeout=10)
        assert seen.status_code == 200  # written by either, read by the other


def _count_up(transaction: Callable[[], Any], threads: int = 20) -> int:
    """Read-then-write increments from racing threads, each in ``transaction()``; the total."""
    with transaction() as tx:
        tx.set_meta("counter", 0)

    def bump() -> None:
        with transaction() as tx:
            seen = tx.get_meta("counter")
            time.sleep(0.005)
            tx.set_meta("counter", seen + 1)

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with transaction() as tx:
        return int(tx.get_meta("counter"))


def test_postgresql_write_transactions_are_serialised_by_the_database(
    request: pytest.FixtureRequest,
) -> None:
    """The same read-then-write increments: within write transactions, none is lost; in
    transactions that skip the advisory lock, some are. The lock is what makes a write
    transaction as exclusive as SQLite's BEGIN IMMEDIATE."""
    from simulator.core.pgstore import PgTx, PostgresStore

    store = open_store(str(database(request, "postgresql")))
    assert isinstance(store, PostgresStore)

    @contextlib.contextmanager
    def unlocked() -> Iterator[PgTx]:
        with store.pool.connection() as conn:
            conn.execute("BEGIN")
            yield PgTx(conn)
            conn.execute("COMMIT")

    try:
        assert _count_up(store.tx) == 20
        assert _count_up(unlocked) < 20, "racing read-then-writes without the lock lost nothing"
    finally:
        store.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_migrations_apply_once_and_are_recorded(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    url = str(database(request, engine, str(tmp_path / "m.db")))
    for _ in range(2):  # a second start applies nothing
        store = open_store(url)
        with store.read() as tx:
            rows = tx.execute("SELECT version, name FROM schema_migrations ORDER BY version")
            versions = [tuple(r) for r in rows.fetchall()]
        store.close()
    assert versions == [(m.version, m.name) for m in migrate.plan(engine)]
    assert [v for v, _ in versions] == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_client_logs_answers_read_back_alike_on_either_engine(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    """An answer as migration 0007 keeps it: masked, cut at its cap, its size, its type, whether
    a fault made it, how long it took; a NUL byte (which PostgreSQL's text refuses) stored."""
    store = open_store(str(database(request, engine, str(tmp_path / "a.db"))))
    answers = [
        client_log.answered(b'{"secret": "whsec_0123456789abcdef"}', "application/json"),
        client_log.answered(b"a\x00b" * client_log.ANSWER_KEPT, "text/plain", True, 0.25),
        client_log.answered(None, "text/event-stream"),
    ]
    try:
        with store.tx() as tx:
            for answer in answers:
                client_log.record(
                    tx,
                    api="kaspi",
                    client="c",
                    method="GET",
                    path="/api/v1/me",
                    query={},
                    headers={},
                    body=b"",
                    status=200,
                    retry_after=None,
                    error=None,
                    at=1.0,
                    answer=answer,
                )
        read = [answer for _entry, answer in client_log.session(store, "kaspi", ["c"])]
    finally:
        store.close()
    assert read == answers
    masked, cut, stream = read
    assert "whsec_0123456789abcdef" not in (masked.text or "") and not masked.cut
    assert cut.cut and cut.size == 3 * client_log.ANSWER_KEPT and cut.fault and cut.took == 0.25
    assert stream.text is None and not stream.cut


def test_each_engine_gets_its_own_dialect_of_a_step() -> None:
    sqlite_plan, pg_plan = migrate.plan("sqlite"), migrate.plan("postgresql")
    assert [m.version for m in sqlite_plan] == [m.version for m in pg_plan]
    assert sqlite_plan[0].path.name == "0001_base.sql"
    assert pg_plan[0].path.name == "0001_base.postgresql.sql"
    assert sqlite_plan[1].path == pg_plan[1].path  # one file where the dialects agree


def test_a_database_made_before_numbered_migrations_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the tables as the simulator made them before
        conn.executescript(
            "CREATE TABLE objects (kind TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, "
            "data TEXT NOT NULL, PRIMARY KEY (kind, id));"
            "INSERT INTO objects VALUES ('payment', 'p1', 'm1', '{\"id\": \"p1\"}');"
            "CREATE TABLE client_requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "api TEXT NOT NULL, client TEXT NOT NULL, operation TEXT NOT NULL, "
            "method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT NOT NULL, body TEXT NOT NULL, "
            "body_hash TEXT NOT NULL, idempotency_key TEXT, status INTEGER NOT NULL, "
            "retry_after REAL, error_code TEXT, error_message TEXT, at REAL NOT NULL);"
        )
    store = open_store(str(path))
    with store.read() as tx:
        assert tx.get("payment", "p1") == {"id": "p1"}  # kept
        columns = {r[1] for r in tx.execute("PRAGMA table_info(client_requests)").fetchall()}
    assert {"problems", "response_problems"} <= columns


@pytest.mark.parametrize("engine", ENGINES)
def test_a_delivery_whose_sender_is_gone_is_taken_back_and_a_live_ones_is_not(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliveries being sent are leased to their sender. At a start, the leases that ran out,
    those of a process of this start that is gone (a killed worker) and those of an earlier
    start are taken back; a live sender's is left to it."""
    from simulator.core.clock import Clock
    from simulator.core.dispatcher import Dispatcher
    from simulator.core.webhooks import WebhookConfig

    monkeypatch.setenv("PAYSIM_BOOT_ID", "thisstart")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    later = time.time() + 60
    leases = {
        "ran_out": (time.time() - 1, f"thisstart:{os.getppid()}"),
        "killed_worker": (later, f"thisstart:{dead.pid}"),
        "earlier_start": (later, "laststart:1"),
        "live_sibling": (later, f"thisstart:{os.getppid()}"),
    }
    store = open_store(str(database(request, engine, str(tmp_path / "lease.db"))))
    try:
        with store.tx() as tx:
            for delivery, (until, owner) in leases.items():
                tx.execute(
                    "INSERT INTO deliveries (id, api, owner, event_id, kind, url, headers, body, "
                    "status, attempts, next_at, history, created_at, lease_until, lease_owner) "
                    "VALUES (?, 'freefin', 'm', 'e', 'k', 'http://127.0.0.1:9/', '{}', '{}', "
                    "'sending', 1, 0, '[]', 0, ?, ?)",
                    (delivery, until, owner),
                )
        Dispatcher(store, Clock(), WebhookConfig(), workers=1)  # a process starting
        with store.read() as tx:
            rows = tx.execute("SELECT id, status FROM deliveries").fetchall()
        assert dict(tuple(r) for r in rows) == {
            "ran_out": "retrying",
            "killed_worker": "retrying",
            "earlier_start": "retrying",
            "live_sibling": "sending",
        }
    finally:
        store.close()
