"""What the store keeps of what only grows: events, webhook deliveries, idempotency records and
the client log, pruned by age and by count, so that a long run levels off.

By age: what is older than ``max_age_s`` (a week by default) goes: an event by when it was made
on the simulated clock, a delivery once it is final (delivered or dead, never one still
retrying), an idempotency record once it has expired, a client's request by when it was made on
the wall clock (the log's own: moving the simulated clock a week on leaves a client's log
whole). By count: past the newest
``max_rows`` of a table (100,000 by default), the oldest go, whatever their age. What was pruned,
and when last, is kept in meta (``pruned``): the dashboard says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.core.store import Store, Tx

WEEK_S = 7 * 24 * 3600.0
MAX_ROWS = 100_000
FINAL = "status IN ('delivered', 'dead')"


@dataclass(frozen=True)
class Retention:
    max_age_s: float = WEEK_S
    max_rows: int = MAX_ROWS
    every_s: float = 30.0  # how often the ticker prunes (moving the clock prunes at once)


@dataclass(frozen=True)
class Table:
    name: str
    stamp: str  # the column of its time, on the clock ``age`` names
    order: str | None  # the column of its insertion order (None: the store's own, Tx.insertion)
    only: str = "1=1"  # what of it may go at all
    age: str = "simulated"  # which clock its stamp is on (simulated, wall), or "expiry"

    def prune(self, tx: Tx, now: float, wall: float, keep: Retention) -> int:
        order = self.order or tx.insertion
        before = {"simulated": now - keep.max_age_s, "wall": wall - keep.max_age_s}
        gone = tx.execute(
            f"DELETE FROM {self.name} WHERE {self.only} AND {self.stamp} < ?",
            (before.get(self.age, now),),
        ).rowcount
        newest = (  # the oldest row of those kept by count; NULL when there are fewer
            f"SELECT {order} FROM {self.name} WHERE {self.only} "
            f"ORDER BY {order} DESC LIMIT 1 OFFSET ?"
        )
        gone += tx.execute(
            f"DELETE FROM {self.name} WHERE {self.only} AND {order} < ({newest})",
            (keep.max_rows - 1,),
        ).rowcount
        return max(gone, 0)


TABLES = (
    Table("events", "created_at", "seq"),
    Table("deliveries", "created_at", None, FINAL),
    Table("idempotency", "expires_at", "expires_at", age="expiry"),
    Table("client_requests", "at", "seq", age="wall"),
)


def prune(store: Store, now: float, wall: float, keep: Retention) -> dict[str, int]:
    """Prune every table that only grows (``now``: simulated time, ``wall``: the wall clock's);
    the rows each lost (what was pruned is added to ``meta.pruned``)."""
    with store.tx() as tx:
        gone = {table.name: table.prune(tx, now, wall, keep) for table in TABLES}
        if any(gone.values()):
            pruned: dict[str, Any] = tx.get_meta("pruned", {})
            for name, rows in gone.items():
                if rows:
                    was = pruned.get(name, {"rows": 0})
                    pruned[name] = {"rows": was["rows"] + rows, "last_at": now}
            tx.set_meta("pruned", pruned)
    return gone


def pruned(store: Store) -> dict[str, Any]:
    """What was pruned since the last reset, by table: ``{"rows", "last_at"}``."""
    with store.read() as tx:
        found: dict[str, Any] = tx.get_meta("pruned", {})
    return found
