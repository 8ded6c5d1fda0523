"""Client grading: every API request a client sends, kept per credential, and the integration
rules judged over them (``GET /_sim/clients/report``; on with ``--grade-clients``).

The log lives in its own table, which ``/_sim/reset`` leaves alone: a partner's suite may reset
between tests and still want one report at the end (``DELETE /_sim/clients/report`` clears it).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.core.store import Store, Tx

SCHEMA = """
CREATE TABLE IF NOT EXISTS client_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, api TEXT NOT NULL, client TEXT NOT NULL,
    operation TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT NOT NULL,
    body TEXT NOT NULL, body_hash TEXT NOT NULL, idempotency_key TEXT, status INTEGER NOT NULL,
    retry_after REAL, error_code TEXT, error_message TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS client_requests_client ON client_requests (api, client, seq);
"""
BODY_KEPT = 2000
KEPT_HEADERS = ("content-type", "idempotency-key", "x-freefin-signature", "last-event-id")
RETRY_WINDOW_S = 300.0  # a create sent again within this long after a failure is its retry
# A server-side failure the client cannot tell from a success that was lost: it must retry
# with the same key. 499: the connection was dropped before any answer.
UNCERTAIN = frozenset({499, 500, 502, 503, 504})
VALIDATION_CODES = frozenset({"bad_request", "validation_error"})


@dataclass(frozen=True)
class Entry:
    seq: int
    api: str
    client: str
    operation: str
    method: str
    url: str
    headers: dict[str, str]
    body: str
    body_hash: str
    idempotency_key: str | None
    status: int
    retry_after: float | None
    error_code: str | None
    error_message: str | None
    at: float

    def evidence(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "at": self.at,
            "error": self.error_code,
        }


def install(store: Store) -> None:
    with store.tx() as tx:
        for statement in filter(str.strip, SCHEMA.split(";")):
            tx.execute(statement)


def record(
    tx: Tx,
    *,
    api: str,
    client: str,
    operation: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    status: int,
    retry_after: float | None,
    error: tuple[str, str] | None,
    at: float,
) -> None:
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    tx.execute(
        "INSERT INTO client_requests (api, client, operation, method, url, headers, body, "
        "body_hash, idempotency_key, status, retry_after, error_code, error_message, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            api,
            client,
            operation,
            method,
            url,
            json.dumps(kept),
            body[:BODY_KEPT].decode("utf-8", "replace"),
            hashlib.sha256(body).hexdigest(),
            headers.get("Idempotency-Key"),
            status,
            retry_after,
            error[0] if error else None,
            error[1] if error else None,
            at,
        ),
    )


def clear(store: Store) -> None:
    with store.tx() as tx:
        tx.execute("DELETE FROM client_requests")


def entries(store: Store, api: str | None = None) -> list[Entry]:
    sql = "SELECT * FROM client_requests" + (" WHERE api=?" if api else "") + " ORDER BY seq"
    with store.read() as tx:
        rows = tx.execute(sql, (api,) if api else ()).fetchall()
    return [
        Entry(
            seq=row[0],
            api=row[1],
            client=row[2],
            operation=row[3],
            method=row[4],
            url=row[5],
            headers=json.loads(row[6]),
            body=row[7],
            body_hash=row[8],
            idempotency_key=row[9],
            status=row[10],
            retry_after=row[11],
            error_code=row[12],
            error_message=row[13],
            at=row[14],
        )
        for row in rows
    ]


# -- the rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    source: str
    fix: str


IDEMPOTENCY_KEY = Rule(
    "client.idempotency_key",
    "every create carries an Idempotency-Key",
    "major",
    "supplement#/idempotency",
    "send an Idempotency-Key (a UUID made once per intended object) with every create, so "
    "that a retry can never create a second one",
)
SAME_KEY_ON_RETRY = Rule(
    "client.same_key_on_retry",
    "after a failure that may have happened server-side, the retry has the same key and body",
    "critical",
    "supplement#/idempotency",
    "keep the key with the intended object and send the retry with the same key and the same "
    "body; a new key after a 5xx, a timeout or a dropped connection can charge twice",
)
HONOURS_RETRY_AFTER = Rule(
    "client.honours_retry_after",
    "after a 429, nothing is sent before Retry-After has passed",
    "major",
    "http: RFC 6585 section 4, RFC 9110 section 10.2.3",
    "on 429 wait at least Retry-After seconds (with jitter) before the next request of that "
    "credential; do not retry at once",
)
REQUEST_CONFORMANCE = Rule(
    "client.request_conformance",
    "requests hold to the spec (types, required fields, enums, amounts in the right unit)",
    "major",
    "seed: each operation's requestBody",
    "send the body as the seed's schema says: kopecks as integers (freefin), amounts as "
    'decimal strings such as "100.00" (Kaspi), every required field, known enum values',
)
RULES = (IDEMPOTENCY_KEY, SAME_KEY_ON_RETRY, HONOURS_RETRY_AFTER, REQUEST_CONFORMANCE)


def _finding(rule: Rule, broken: list[Entry], judged: int, what: str) -> dict[str, Any]:
    verdict = "skipped" if judged == 0 else ("failed" if broken else "passed")
    detail = (
        f"no request to judge ({what})"
        if judged == 0
        else f"{len(broken)} of {judged} {what} broke the rule"
        if broken
        else f"{judged} {what}, all held"
    )
    return {
        "rule": rule.id,
        "title": rule.title,
        "severity": rule.severity,
        "verdict": verdict,
        "detail": detail,
        "fix": rule.fix,
        "source": rule.source,
        "evidence": [e.evidence() for e in broken[:3]],
    }


def judge(log: Iterable[Entry], creates: frozenset[str]) -> list[dict[str, Any]]:
    """Each rule judged over one client's requests (in the order they came)."""
    log = list(log)
    made = [e for e in log if e.operation in creates]
    findings = [
        _finding(IDEMPOTENCY_KEY, [e for e in made if not e.idempotency_key], len(made), "creates")
    ]

    retries: list[Entry] = []
    double: list[Entry] = []
    for i, failed in enumerate(made):
        if failed.status not in UNCERTAIN:
            continue
        later = [
            e
            for e in made[i + 1 :]
            if e.operation == failed.operation and e.at - failed.at <= RETRY_WINDOW_S
        ]
        retry = next((e for e in later if e.body_hash == failed.body_hash), None)
        if retry is None:
            continue
        retries.append(retry)
        if not failed.idempotency_key or retry.idempotency_key != failed.idempotency_key:
            double += [failed, retry]
    findings.append(_finding(SAME_KEY_ON_RETRY, double, len(retries), "retries after a failure"))

    early: list[Entry] = []
    limited = [e for e in log if e.status == 429]
    for limit in limited:
        wait = limit.retry_after or 0
        following = next((e for e in log if e.seq > limit.seq), None)
        if following is not None and following.at - limit.at < wait - 0.05:
            early += [limit, following]
    findings.append(_finding(HONOURS_RETRY_AFTER, early, len(limited), "429 answers"))

    refused = [e for e in log if e.status in (400, 422) and e.error_code in VALIDATION_CODES]
    findings.append(_finding(REQUEST_CONFORMANCE, refused, len(log), "requests"))
    return findings


def report(store: Store, creates: Mapping[str, frozenset[str]]) -> dict[str, Any]:
    """Every client's findings: ``{"clients": [{"api", "client", "requests", "findings"}]}``."""
    by_client: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries(store):
        by_client[(entry.api, entry.client)].append(entry)
    clients = []
    for (api, client), log in sorted(by_client.items()):
        findings = judge(log, creates.get(api, frozenset()))
        clients.append({"api": api, "client": client, "requests": len(log), "findings": findings})
    return {"rules": [rule.id for rule in RULES], "clients": clients}
