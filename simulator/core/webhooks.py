"""The webhook outbox: deliveries are rows written with the state change; the sender
(``dispatcher``) POSTs them, retries on the simulated clock, and dead-letters the last failure.
A receiver that answers 429 or 503 with Retry-After is not tried again before that time has
passed (RFC 9110 section 10.2.3), when it is later than the schedule's next attempt.

Statuses: queued (never tried), sending (in flight), retrying, delivered, dead.
"""

from __future__ import annotations

import email.utils
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from simulator.core.clock import iso
from simulator.core.defects import Rules
from simulator.core.destinations import LOOPBACK, Guard, Refused
from simulator.core.seed import bundled_webhooks
from simulator.core.store import Store, Tx

log = logging.getLogger(__name__)

# A receiver's Retry-After puts its next attempt off by at most this long.
RECEIVER_WAIT_MAX_S = 3600.0


def receiver_wait(code: int | None, value: str | None, now: float) -> float | None:
    """The seconds a receiver's 429 or 503 asks to wait (delta-seconds or an HTTP date), at
    most RECEIVER_WAIT_MAX_S; None when it asks nothing usable."""
    if code not in (429, 503) or not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RECEIVER_WAIT_MAX_S)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when - now), RECEIVER_WAIT_MAX_S)


@dataclass
class WebhookConfig:
    # the seed's (simulator/seed.yaml), where nothing else says
    retry_schedule: list[float] = field(
        default_factory=lambda: [float(s) for s in bundled_webhooks()["retry_schedule"]]
    )
    timeout_s: float = field(default_factory=lambda: float(bundled_webhooks()["timeout_s"]))
    # Where deliveries may go. Loopback only by default: a simulator fed generated or
    # untrusted webhook URLs must never send traffic elsewhere (or wait on DNS for them).
    allow_hosts: list[str] = field(default_factory=lambda: list(LOOPBACK))
    # The simulator's own listening addresses: never a destination (core.destinations).
    own: list[tuple[str, int]] = field(default_factory=list)

    def guard(self) -> Guard:
        return Guard(list(self.allow_hosts), list(self.own))

    def allows(self, url: str) -> bool:
        """True when ``url`` may receive webhooks (see :mod:`simulator.core.destinations`)."""
        try:
            self.guard().check(url)
        except Refused:
            return False
        return True

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule)


def enqueue(
    tx: Tx,
    *,
    api: str,
    owner: str,
    event_id: str,
    kind: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    now: float,
    endpoint_id: str | None = None,
) -> str:
    delivery_id = "dlv_" + uuid.uuid4().hex[:20]
    tx.execute(
        "INSERT INTO deliveries (id, api, owner, event_id, kind, url, headers, body, status, "
        "attempts, next_at, history, created_at, endpoint_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, '[]', ?, ?)",
        (
            delivery_id,
            api,
            owner,
            event_id,
            kind,
            url,
            json.dumps(headers),
            body.decode("utf-8"),
            now,
            now,
            endpoint_id,
        ),
    )
    return delivery_id


class DeliveryRow(TypedDict):
    """A delivery as the outbox reads it back: one event to one URL, and its attempts."""

    id: str
    api: str
    owner: str
    event_id: str
    kind: str
    url: str
    status: str  # queued, sending, retrying, delivered, dead
    attempts: int
    last_code: int | None
    last_latency_ms: float | None
    last_error: str | None
    history: list[dict[str, Any]]  # per attempt: attempt, at, response_code, error, latency_ms
    next_attempt_at: str | None
    created_at: str
    endpoint_id: str | None  # the Kaspi endpoint it goes to (freefin's have none)


def _row_to_dict(row: Any) -> DeliveryRow:
    keys = (
        "id",
        "api",
        "owner",
        "event_id",
        "kind",
        "url",
        "status",
        "attempts",
        "next_at",
        "last_code",
        "last_latency_ms",
        "last_error",
        "history",
        "created_at",
        "endpoint_id",
    )
    data = dict(zip(keys, row, strict=True))
    data["history"] = json.loads(data["history"])
    data["next_attempt_at"] = iso(data.pop("next_at")) if data["next_at"] else None
    data["created_at"] = iso(data["created_at"])
    return cast(DeliveryRow, data)


_COLUMNS = (
    "id, api, owner, event_id, kind, url, status, attempts, next_at, last_code, "
    "last_latency_ms, last_error, history, created_at, endpoint_id"
)


def _filters(**values: Any) -> tuple[str, list[Any]]:
    """A WHERE clause over the given columns (``status`` may be a list of statuses)."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    for col, value in values.items():
        if isinstance(value, list | tuple):
            where.append(f"{col} IN ({','.join('?' * len(value))})")
            params.extend(value)
        elif value:
            where.append(f"{col}=?")
            params.append(value)
    return " AND ".join(where), params


def list_deliveries(
    store: Store,
    *,
    api: str | None = None,
    owner: str | None = None,
    status: str | list[str] | None = None,
    endpoint_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DeliveryRow]:
    """Deliveries, newest first, filtered by any of the given columns."""
    where, params = _filters(api=api, owner=owner, status=status, endpoint_id=endpoint_id)
    with store.read() as tx:
        rows = tx.execute(
            f"SELECT {_COLUMNS} FROM deliveries WHERE {where} "
            f"ORDER BY created_at DESC, {tx.insertion} DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
    return [_row_to_dict(r) for r in rows]


def count_deliveries(
    store: Store,
    *,
    api: str | None = None,
    owner: str | None = None,
    status: str | list[str] | None = None,
    endpoint_id: str | None = None,
) -> int:
    """How many deliveries :func:`list_deliveries` would page through."""
    where, params = _filters(api=api, owner=owner, status=status, endpoint_id=endpoint_id)
    with store.read() as tx:
        row = tx.execute(f"SELECT COUNT(*) FROM deliveries WHERE {where}", tuple(params)).fetchone()
    return int(row[0])


def get_delivery(store: Store, delivery_id: str) -> DeliveryRow | None:
    with store.read() as tx:
        row = tx.execute(f"SELECT {_COLUMNS} FROM deliveries WHERE id=?", (delivery_id,)).fetchone()
    return _row_to_dict(row) if row else None


def retry_now(tx: Tx, delivery_id: str, now: float) -> bool:
    """Schedule another attempt at once (also for dead letters); False if unknown."""
    cur = tx.execute(
        "UPDATE deliveries SET status=CASE WHEN attempts=0 THEN 'queued' ELSE 'retrying' END, "
        "next_at=?, final_at=NULL WHERE id=? AND status!='sending'",
        (now, delivery_id),
    )
    return cur.rowcount > 0


class DeliveryRules(Rules):
    """How a delivery is retried, as both seeds describe it."""

    def delivers_once(self) -> bool:
        """A delivery answered 2xx is done."""
        return True

    def retries(self) -> bool:
        """A failed delivery is tried again."""
        return True

    def dead_letters(self) -> bool:
        """After the last attempt a failing delivery is dead."""
        return True

    def retry_wait(self, wait: float) -> float:
        """The schedule's wait before the next attempt."""
        return wait

    def retries_on_request(self) -> bool:
        """A retry asked for through the API makes another attempt at once."""
        return True


def counts_by_status(store: Store) -> dict[str, int]:
    """How many deliveries are in each status."""
    with store.read() as tx:
        rows = tx.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
    return {r[0]: int(r[1]) for r in rows}


FINAL = "status IN ('delivered', 'dead')"
PENDING = "status IN ('queued', 'retrying')"
GIVEN_UP_AGE = "given up unsent: older than the retention age"
GIVEN_UP_ROWS = "given up unsent: past the newest deliveries kept"


def _newest(order: str) -> str:
    """The oldest delivery of the newest ones kept, counted over the whole table."""
    return f"SELECT {order} FROM deliveries ORDER BY {order} DESC LIMIT 1 OFFSET ?"


def give_up_deliveries(tx: Tx, now: float, before: float, rows: int) -> int:
    """Deliveries not yet sent or retrying, made before ``before`` or past the newest ``rows``,
    made dead (final ``now``, ``last_error`` saying why); how many. One being sent is its
    sender's until it records the attempt."""
    order = tx.insertion
    dead = "UPDATE deliveries SET status='dead', next_at=NULL, last_error=?, final_at=? "
    given = tx.execute(
        dead + f"WHERE {PENDING} AND created_at < ?", (GIVEN_UP_AGE, now, before)
    ).rowcount
    given += tx.execute(
        dead + f"WHERE {PENDING} AND {order} < ({_newest(order)})", (GIVEN_UP_ROWS, now, rows - 1)
    ).rowcount
    return max(given, 0)


def prune_deliveries(tx: Tx, before: float, rows: int) -> int:
    """Delete the final deliveries (delivered or dead) final before ``before``, and the final
    ones past the newest ``rows`` deliveries; how many went."""
    order = tx.insertion
    gone = tx.execute(
        f"DELETE FROM deliveries WHERE {FINAL} AND COALESCE(final_at, created_at) < ?", (before,)
    ).rowcount
    gone += tx.execute(
        f"DELETE FROM deliveries WHERE {FINAL} AND {order} < ({_newest(order)})", (rows - 1,)
    ).rowcount
    return max(gone, 0)
