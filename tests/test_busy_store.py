"""A store too busy to do the work (a deadlock the database broke, a lock or a connection not
had in time) answers 503 with Retry-After in the API's envelope, nothing done, instead of a 500:
the request may be sent again. Anything else unexpected stays a 500."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from flask import Flask

from simulator.core.engines import open_store
from simulator.freefin import payments
from tests.conftest import FF, KEY_A1, database

H = {"Authorization": f"Bearer {KEY_A1}"}


def _raising(error: Exception) -> Any:
    def create(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    return create


def test_a_busy_store_answers_503_with_retry_after(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    monkeypatch.setattr(
        payments, "create", _raising(sqlite3.OperationalError("database is locked"))
    )
    answer = client.post(f"{FF}/payments", json={"amount": 100}, headers=H)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.get_json()["error"]["code"] == "temporarily_unavailable"


def test_any_other_unexpected_error_is_still_a_500(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    monkeypatch.setattr(payments, "create", _raising(sqlite3.OperationalError("no such table")))
    answer = client.post(f"{FF}/payments", json={"amount": 100}, headers=H)
    assert answer.status_code == 500 and "Retry-After" not in answer.headers


@pytest.mark.server
def test_a_real_deadlock_on_postgresql_is_known_as_transient(
    request: pytest.FixtureRequest,
) -> None:
    """Two row-locking transactions take two objects in opposite orders: PostgreSQL breaks the
    deadlock by failing one, and the store knows that failure for what it is."""
    store = open_store(str(database(request, "postgresql")))
    with store.tx() as tx:
        tx.insert("thing", "a", "m", {})
        tx.insert("thing", "b", "m", {})
    both = threading.Barrier(2)
    failed: list[BaseException] = []

    def take(first: str, second: str) -> None:
        try:
            with store.tx(rows=True) as tx:
                tx.get("thing", first)
                both.wait(5)
                time.sleep(0.1)
                tx.get("thing", second)
        except Exception as exc:
            failed.append(exc)

    threads = [threading.Thread(target=take, args=pair) for pair in (("a", "b"), ("b", "a"))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        store.close()
    assert len(failed) == 1, failed
    assert store.transient(failed[0]), repr(failed[0])
    assert not store.transient(ValueError("a bug"))
