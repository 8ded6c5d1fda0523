"""Reads of the objects table across merchants (the dashboard's); a merchant's own reads and
every write go through ``store.Tx``."""

from __future__ import annotations

import json
from typing import Any

from simulator.core.store import Store, Tx


def census(store: Store) -> dict[tuple[str, str, str | None], int]:
    """(kind, owner, status) -> how many objects."""
    status = store.field("status")
    with store.read() as tx:
        rows = tx.execute(
            f"SELECT kind, owner, {status}, COUNT(*) FROM objects GROUP BY kind, owner, {status}"
        ).fetchall()
    return {(r[0], r[1], r[2]): int(r[3]) for r in rows}


def newest(
    store: Store, kind: str, owner: str | None, status: str | None, limit: int
) -> list[tuple[dict[str, Any], str]]:
    """The newest objects of a kind, (document, owner), of one owner and status when given."""
    sql = "SELECT data, owner FROM objects WHERE kind=?"
    params: list[Any] = [kind]
    if owner:
        sql, params = sql + " AND owner=?", [*params, owner]
    if status:
        sql, params = sql + f" AND {store.field('status')}=?", [*params, status]
    with store.read() as tx:
        sql += f" ORDER BY {tx.insertion} DESC LIMIT ?"
        rows = tx.execute(sql, (*params, limit)).fetchall()
    return [(json.loads(r[0]), r[1]) for r in rows]


def one(store: Store, kind: str, obj_id: str) -> tuple[dict[str, Any], str] | None:
    """An object of any owner, with its owner."""
    with store.read() as tx:
        row = tx.execute(
            "SELECT data, owner FROM objects WHERE kind=? AND id=?", (kind, obj_id)
        ).fetchone()
    return (json.loads(row[0]), row[1]) if row else None


def prune_objects(tx: Tx, rows: int) -> int:
    """Delete all but the newest ``rows`` objects (never by age: a test holding an id must find
    it however far it moved the clock); how many went."""
    order = tx.insertion
    newest = f"SELECT {order} FROM objects ORDER BY {order} DESC LIMIT 1 OFFSET ?"
    gone = tx.execute(f"DELETE FROM objects WHERE {order} < ({newest})", (rows - 1,)).rowcount
    return max(gone, 0)
