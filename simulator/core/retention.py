"""What the store keeps of what only grows: events, webhook deliveries, idempotency records and
the client log, pruned by age and by count, so that a long run levels off.

By age: what is older than ``max_age_s`` (a week by default) goes: an event by when it was made
on the simulated clock, a delivery once it has been final (delivered or dead) that long, an
idempotency record once it has expired, a client's request by when it was made on the wall
clock (the log's own: moving the simulated clock a week on leaves a client's log whole). By
count: past the newest ``max_rows`` of a table (100,000 by default), the oldest go, whatever
their age.

A delivery not yet sent or still retrying is never deleted as it is: past the retention age, or
past the newest ``max_rows`` deliveries, it is given up first (dead, ``last_error`` saying why,
as the delivery log and the dashboard show it), so that a sender that falls behind cannot grow
the table without a bound; one given up by age stays in the log a retention age more, one given
up by count goes in the same pass. One being sent is its sender's until it records the attempt.

Objects (payments, refunds, payouts, invoices) are never pruned by age: they are what a partner's
tests read back, refund and list, and a test holding an id must find it however far it moved the
clock. They grow by what clients create, once per create (retries and replays make none), and
only past the newest ``max_objects`` (1,000,000 by default, about 650 MB of store) do the oldest
go, so that nothing grows without a bound; a reset or a fresh ``--db`` clears them.

What was pruned and given up, and when last, is kept in meta (``pruned``): the dashboard says so.

This module holds the policy; each table's owner holds its SQL and prunes it when asked
(``events.prune_events``, ``webhooks.give_up_deliveries`` and ``prune_deliveries``,
``idempotency.prune_expired``, ``objects.prune_objects``; the client log's owner, above core,
hands in ``client_log.KEPT``).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.core import events, idempotency, objects, webhooks
from simulator.core.store import Store, Tx

WEEK_S = 7 * 24 * 3600.0
MAX_ROWS = 100_000
MAX_OBJECTS = 1_000_000


@dataclass(frozen=True)
class Retention:
    max_age_s: float = WEEK_S
    max_rows: int = MAX_ROWS
    max_objects: int = MAX_OBJECTS
    every_s: float = 30.0  # how often the ticker prunes (moving the clock prunes at once)

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Retention:
        """The retention an app's settings (``RETENTION_AGE_S``, ``RETENTION_ROWS``,
        ``RETENTION_OBJECTS``) ask for."""
        return cls(
            max_age_s=float(config.get("RETENTION_AGE_S", WEEK_S)),
            max_rows=int(config.get("RETENTION_ROWS", MAX_ROWS)),
            max_objects=int(config.get("RETENTION_OBJECTS", MAX_OBJECTS)),
        )


def _above_zero(kind: Callable[[str], float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    return parse


# Each option: its name, the environment variable, what it parses as, its default, the app
# setting it stands for, and what it keeps
OPTIONS = (
    (
        "--retention-age",
        "PAYSIM_RETENTION_AGE",
        float,
        WEEK_S,
        "RETENTION_AGE_S",
        "SECONDS",
        "how long events, final webhook deliveries, expired idempotency records and the client "
        "log are kept (default a week); a delivery still unsent past it is given up",
    ),
    (
        "--retention-rows",
        "PAYSIM_RETENTION_ROWS",
        int,
        MAX_ROWS,
        "RETENTION_ROWS",
        "N",
        "the newest rows of each of those tables kept, whatever their age",
    ),
    (
        "--retention-objects",
        "PAYSIM_RETENTION_OBJECTS",
        int,
        MAX_OBJECTS,
        "RETENTION_OBJECTS",
        "N",
        "the newest objects (payments, refunds, payouts, invoices) kept; never pruned by age",
    ),
)


def add_options(parser: argparse.ArgumentParser, env: Callable[[str], str | None]) -> None:
    """The retention options (and their PAYSIM_ variables), for every command that keeps a
    store: their values go to :func:`settings`."""
    for flag, variable, kind, default, _setting, metavar, keeps in OPTIONS:
        parse = _above_zero(kind)
        parser.add_argument(
            flag,
            type=parse,
            default=parse(env(variable) or str(default)),
            metavar=metavar,
            help=f"[{variable}] {keeps} (default {default:.0f})",
        )


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The app settings the options of :func:`add_options` stand for."""
    return {
        setting: getattr(args, flag[2:].replace("-", "_"))
        for flag, _, _, _, setting, _, _ in OPTIONS
    }


@dataclass(frozen=True)
class Table:
    """A table that only grows, and its owner's pruner: ``prune(tx, before, rows)`` deletes what
    is older than ``before`` and past the newest ``rows``, and says how many went."""

    name: str
    prune: Callable[[Tx, float, int], int]
    clock: str = "simulated"  # which clock its age is on (simulated, wall), or "expiry"
    cap: str = "max_rows"  # which of Retention's counts caps it

    def before(self, now: float, wall: float, keep: Retention) -> float:
        """What is older than this goes: a retention age back on the table's clock, or ``now``
        for what expires."""
        return {"simulated": now - keep.max_age_s, "wall": wall - keep.max_age_s}.get(
            self.clock, now
        )


# The tables of core; the client log's (grading.client_log.KEPT) is added where it is kept
TABLES = (
    Table("events", events.prune_events),
    Table("deliveries", webhooks.prune_deliveries),
    Table("idempotency", idempotency.prune_expired, clock="expiry"),
    Table("objects", lambda tx, _, rows: objects.prune_objects(tx, rows), cap="max_objects"),
)
DELIVERIES = TABLES[1].name


def prune(
    store: Store, now: float, wall: float, keep: Retention, more: Sequence[Table] = ()
) -> dict[str, int]:
    """Give up the deliveries past retention, then have each table's owner prune it, core's
    tables and ``more`` (``now``: simulated time, ``wall``: the wall clock's); the rows each
    lost, and ``given_up``: the deliveries given up (added to ``meta.pruned``)."""
    with store.tx() as tx:
        given = webhooks.give_up_deliveries(tx, now, now - keep.max_age_s, keep.max_rows)
        gone = {
            table.name: table.prune(tx, table.before(now, wall, keep), getattr(keep, table.cap))
            for table in (*TABLES, *more)
        }
        if any(gone.values()) or given:
            pruned: dict[str, Any] = tx.get_meta("pruned", {})
            for name, rows in {**gone, DELIVERIES: gone.get(DELIVERIES, 0)}.items():
                if rows or (name == DELIVERIES and given):
                    was = pruned.get(name, {"rows": 0})
                    pruned[name] = {**was, "rows": was["rows"] + rows, "last_at": now}
            if given:
                was_given = pruned[DELIVERIES].get("given_up", 0)
                pruned[DELIVERIES]["given_up"] = was_given + given
            tx.set_meta("pruned", pruned)
    return {**gone, "given_up": given}


def pruned(store: Store) -> dict[str, Any]:
    """What was pruned since the last reset, by table: ``{"rows", "last_at"}``."""
    with store.read() as tx:
        found: dict[str, Any] = tx.get_meta("pruned", {})
    return found


class Pruner:
    """Prunes a store every ``keep.every_s`` at most, from whichever thread asks first (a store
    with no ticker of its own: the proxy's, on its requests)."""

    def __init__(self, store: Store, keep: Retention, more: Sequence[Table] = ()) -> None:
        self.store, self.keep, self.more = store, keep, more
        self._lock = threading.Lock()
        self._at: float | None = None

    def __call__(self, now: float, wall: float) -> dict[str, int] | None:
        """What was pruned, or None when it was not yet time."""
        with self._lock:
            if self._at is not None and time.monotonic() - self._at < self.keep.every_s:
                return None
            self._at = time.monotonic()
        return prune(self.store, now, wall, self.keep, self.more)
