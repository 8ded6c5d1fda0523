"""Reads of the objects table across merchants (the dashboard's), and its cap by count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.core.engines import open_store
from simulator.core.objects import census, newest, one, prune_objects
from simulator.core.store import Store


@pytest.fixture
def store() -> Iterator[Store]:
    store = open_store(":memory:")
    with store.tx() as tx:
        for i, (owner, status) in enumerate(
            [("m1", "pending"), ("m2", "paid"), ("m1", "paid"), ("m1", "paid")]
        ):
            tx.insert("invoice", f"inv{i}", owner, {"id": f"inv{i}", "status": status})
    yield store
    store.close()


def test_the_census_counts_by_kind_owner_and_status(store: Store) -> None:
    assert census(store) == {
        ("invoice", "m1", "pending"): 1,
        ("invoice", "m1", "paid"): 2,
        ("invoice", "m2", "paid"): 1,
    }


def test_the_newest_first_of_an_owner_and_a_status(store: Store) -> None:
    assert [d["id"] for d, _ in newest(store, "invoice", None, None, 10)] == [
        "inv3",
        "inv2",
        "inv1",
        "inv0",
    ]
    assert [d["id"] for d, _ in newest(store, "invoice", "m1", "paid", 1)] == ["inv3"]
    assert one(store, "invoice", "inv1") == ({"id": "inv1", "status": "paid"}, "m2")
    assert one(store, "invoice", "nope") is None


def test_pruning_keeps_the_newest_rows(store: Store) -> None:
    with store.tx() as tx:
        assert prune_objects(tx, 2) == 2
        assert prune_objects(tx, 2) == 0
    assert [d["id"] for d, _ in newest(store, "invoice", None, None, 10)] == ["inv3", "inv2"]
