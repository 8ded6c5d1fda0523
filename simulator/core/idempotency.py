"""Idempotency keys: the first response of a key is stored with the request's fingerprint.

The key is claimed before the work, in the transaction that creates the object: its row is
inserted first (the primary key admits one), so a concurrent request with the same key waits on
that row until the first commits (and then replays it) or rolls back (and then does the work
itself). Concurrent requests with one key create exactly one object, on SQLite (one writer at a
time) and on PostgreSQL's row-locking transactions alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.core import codec
from simulator.core.store import Tx

# made once: ``json.dumps`` with options builds an encoder on every call
_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(*parts: Any) -> str:
    """A stable digest of the request: its operation, path and canonical JSON body."""
    return hashlib.sha256(_CANON.encode(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: dict[str, Any]


CLAIMED = 0  # the status of a key claimed by a transaction whose work has not been stored


def claim(tx: Tx, scope: str, key: str, now: float) -> Stored | None:
    """The stored response of ``key``, or None when the key is now this transaction's (until
    it stores its response with ``remember``, or rolls back)."""
    # one statement: a key past its expiry is claimed afresh, a live one is left as it is
    claimed = tx.execute(
        "INSERT INTO idempotency (scope, key, fingerprint, status, body, expires_at) "
        "VALUES (?, ?, '', ?, '{}', ?) ON CONFLICT (scope, key) DO UPDATE SET "
        "fingerprint=excluded.fingerprint, status=excluded.status, body=excluded.body, "
        "expires_at=excluded.expires_at WHERE idempotency.expires_at<=excluded.expires_at",
        (scope, key, CLAIMED, now),
    )
    if claimed.rowcount == 1:
        return None
    row = tx.execute(
        "SELECT fingerprint, status, body FROM idempotency WHERE scope=? AND key=?" + tx.for_update,
        (scope, key),
    ).fetchone()
    if row is None or int(row[1]) == CLAIMED:  # a claim committed without its response
        return None
    return Stored(row[0], int(row[1]), json.loads(row[2]))


def remember(
    tx: Tx, scope: str, key: str, fp: str, status: int, body: dict[str, Any], expires_at: float
) -> None:
    tx.execute(
        "INSERT INTO idempotency (scope, key, fingerprint, status, body, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET "
        "fingerprint=excluded.fingerprint, status=excluded.status, body=excluded.body, "
        "expires_at=excluded.expires_at",
        (scope, key, fp, status, codec.dumps(body), expires_at),
    )


def execute(
    tx: Tx,
    *,
    scope: str,
    key: str | None,
    fp: str,
    now: float,
    ttl: float,
    create: Callable[[], tuple[int, dict[str, Any]]],
    conflict: Exception,
    skip_lookup: bool = False,
) -> tuple[int, dict[str, Any], bool]:
    """Run ``create`` once per (scope, key): (status, body, replayed).

    A key seen with the same fingerprint replays the stored response; with another fingerprint
    ``conflict`` is raised. Errors raised by ``create`` roll back and store nothing, so a
    request that failed validation can be sent again with the same key.
    """
    if key is not None and not skip_lookup:
        stored = claim(tx, scope, key, now)
        if stored is not None:
            if stored.fingerprint != fp:
                raise conflict
            return stored.status, stored.body, True
    status, body = create()
    if key is not None:
        remember(tx, scope, key, fp, status, body, now + ttl)
    return status, body, False


def prune_expired(tx: Tx, now: float, rows: int) -> int:
    """Delete the records expired by ``now`` and all but the ``rows`` that expire last; how many
    went. Retention (``core/retention.py``) decides when and how much."""
    return tx.trim("idempotency", age="expires_at", before=now, order="expires_at", rows=rows)
