"""Idempotency keys: the first response of a key is stored with the request's fingerprint.

Lookup and the write that creates the object happen in the same ``BEGIN IMMEDIATE``
transaction, so concurrent requests with one key create exactly one object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.core import codec
from simulator.core.store import Tx


def fingerprint(*parts: Any) -> str:
    """A stable digest of the request: its operation, path and canonical JSON body."""
    canon = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: dict[str, Any]


def lookup(tx: Tx, scope: str, key: str, now: float) -> Stored | None:
    row = tx.execute(
        "SELECT fingerprint, status, body, expires_at FROM idempotency WHERE scope=? AND key=?",
        (scope, key),
    ).fetchone()
    if row is None:
        return None
    if row[3] <= now:
        tx.execute("DELETE FROM idempotency WHERE scope=? AND key=?", (scope, key))
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
        stored = lookup(tx, scope, key, now)
        if stored is not None:
            if stored.fingerprint != fp:
                raise conflict
            return stored.status, stored.body, True
    status, body = create()
    if key is not None:
        remember(tx, scope, key, fp, status, body, now + ttl)
    return status, body, False
