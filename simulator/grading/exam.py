"""The exam (``--exam``): each credential's client is put, on its first suitable requests, through
every situation a client rule judges, so that no rule of its grade is left without anything to
judge. Deterministic: the same requests meet the same situations, in this order, once each.

A situation is a fault the simulator (or the proxy) already knows how to answer with (a status
before or after the work, a dropped connection, latency), or the event stream ended after its
first event. A retry of a request that met a situation meets none (its path and bytes are
remembered), except the outage, whose run of 503s is meant for the retries. Where each client
stands is kept in the store (``client_exam``), so every process of one store gives one exam.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from simulator.core.store import Store
from simulator.grading import operations

REQUEST, CREATE, STREAM = "request", "create", "stream"
SLOW_MS = 2000
OUTAGE_RUN = 4  # more than a bounded backoff retries within its window


@dataclass(frozen=True)
class Situation:
    name: str
    meets: str  # what the client meets, as the report says it
    rules: tuple[str, ...]  # the client rules it gives something to judge
    on: str  # REQUEST (any but a stream), CREATE, STREAM
    fault: dict[str, Any] = field(default_factory=dict)  # core.faults.Fault's fields; {}: cut
    times: int = 1


SITUATIONS = (
    Situation(
        "rate_limited",
        "429 with Retry-After: 1 on its first request",
        ("client.honours_retry_after",),
        REQUEST,
        {"kind": "status", "status": 429, "retry_after": 1},
    ),
    Situation(
        "lost_answer",
        "a create done, then its answer lost (500)",
        ("client.same_key_on_retry", "client.bounded_backoff"),
        CREATE,
        {"kind": "status", "status": 500, "when": "after"},
    ),
    Situation(
        "dropped",
        "a create done, then the connection dropped",
        ("client.same_key_on_retry", "client.bounded_backoff"),
        CREATE,
        {"kind": "drop", "when": "after"},
    ),
    Situation(
        "error_before",
        "a create refused with 502 before any work",
        ("client.same_key_on_retry", "client.bounded_backoff"),
        CREATE,
        {"kind": "status", "status": 502},
    ),
    Situation(
        "outage",
        f"an outage: {OUTAGE_RUN} answers 503 in a row, no Retry-After",
        ("client.bounded_backoff", "client.same_key_on_retry"),
        CREATE,
        {"kind": "status", "status": 503},
        OUTAGE_RUN,
    ),
    Situation(
        "slow",
        f"a create answered after {SLOW_MS / 1000:g} s",
        ("client.same_key_on_retry",),
        CREATE,
        {"kind": "latency", "latency_ms": SLOW_MS},
    ),
    Situation(
        "stream_cut",
        "the event stream ended right after its first event",
        ("client.sse_resume",),
        STREAM,
    ),
)
SEND = {
    REQUEST: "send any request",
    CREATE: "send a create",
    STREAM: "open the event stream (GET /api/v1/public/events)",
}


def applies(situation: Situation, api: str) -> bool:
    """Whether a client of ``api`` can meet the situation (Kaspi has no event stream)."""
    return situation.on != STREAM or api in operations.STREAMS


def kind_of(api: str, operation: str) -> str:
    """What a request is to the exam: a create, the event stream, or any other request."""
    if operation in operations.CREATES[api]:
        return CREATE
    return STREAM if operation == operations.STREAMS.get(api) else REQUEST


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What tells a retry of a request from another request: its method, path and bytes."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def next_situation(
    store: Store, api: str, client: str, kind: str | None, fingerprint: str
) -> Situation | None:
    """The situation this request meets (and count it), or None. ``kind``: CREATE, STREAM or
    REQUEST (None: a request no situation is for)."""
    if kind is None:
        return None
    with store.read() as tx:
        chosen = _choose(_met(tx, api, client), kind, fingerprint)
    if chosen is None:
        return None
    with store.tx() as tx:  # again under the write lock: two requests at once meet one each
        chosen = _choose(_met(tx, api, client), kind, fingerprint)
        if chosen is None:
            return None
        tx.execute(
            "INSERT INTO client_exam (api, client, situation, hits, fingerprint) "
            "VALUES (?, ?, ?, 1, ?) ON CONFLICT (api, client, situation) "
            "DO UPDATE SET hits = client_exam.hits + 1",
            (api, client, chosen.name, fingerprint),
        )
    return chosen


def _met(tx: Any, api: str, client: str) -> dict[str, tuple[int, str]]:
    """situation -> (hits, fingerprint of the request that met it) of one client."""
    rows = tx.execute(
        "SELECT situation, hits, fingerprint FROM client_exam WHERE api=? AND client=?",
        (api, client),
    ).fetchall()
    return {r[0]: (int(r[1]), r[2]) for r in rows}


def _choose(met: dict[str, tuple[int, str]], kind: str, fingerprint: str) -> Situation | None:
    retried = any(fp == fingerprint for _, fp in met.values())
    for situation in SITUATIONS:
        hits = met.get(situation.name, (0, ""))[0]
        if hits >= situation.times:
            continue
        suits = situation.on == kind or (situation.on == REQUEST and kind == CREATE)
        if not suits:
            continue
        if hits and situation.times > 1:
            return situation  # a run goes on, on the retries it is meant for
        if not retried:
            return situation
    return None


def clear(store: Store) -> None:
    with store.tx() as tx:
        tx.execute("DELETE FROM client_exam")


def met(store: Store) -> dict[tuple[str, str], set[str]]:
    """(api, client) -> the situations each client has met."""
    with store.read() as tx:
        rows = tx.execute("SELECT api, client, situation FROM client_exam").fetchall()
    out: dict[tuple[str, str], set[str]] = {}
    for api, client, name in rows:
        out.setdefault((api, client), set()).add(name)
    return out


def how(rule: str, api: str, exam_on: bool, met: set[str]) -> str:
    """How to make a rule's situation come, for a report where it did not."""
    given = [s for s in SITUATIONS if rule in s.rules and applies(s, api)]
    if not given:
        return ""
    if not exam_on:
        return "start the simulator (or the proxy) with --exam: it gives " + "; ".join(
            s.meets for s in given
        )
    pending = [s for s in given if s.name not in met]
    if not pending:
        return (
            "the exam gave "
            + "; ".join(s.meets for s in given)
            + ", and the client sent nothing more to judge"
        )
    return "the exam gives " + "; ".join(s.meets for s in pending) + ": " + SEND[pending[0].on]


def cut_after_first_event(chunks: Iterable[Any]) -> Iterator[Any]:
    """An event stream's chunks up to the end of its first event (one with an ``id:``), then
    the end of the stream: the stream cut mid-way (in the chunk that holds that event, which
    may hold more)."""
    try:
        for chunk in chunks:
            text = chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else str(chunk)
            start = 0 if text.startswith("id:") else text.find("\nid:")
            end = text.find("\n\n", start) if start >= 0 else -1
            if end < 0:
                yield chunk
                continue
            first = text[: end + 2]
            yield first.encode() if isinstance(chunk, bytes) else first
            return
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
