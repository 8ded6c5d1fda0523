"""Client grading: every API request a client sends, kept per credential, and the integration
rules judged over them (``GET /_sim/clients/report``; on with ``--grade-clients``).

The log lives in its own table, which ``/_sim/reset`` leaves alone: a partner's suite may reset
between tests and still want one report at the end (``DELETE /_sim/clients/report`` clears it).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from simulator.core import operations
from simulator.core.store import Store, Tx

BODY_KEPT = 2000
KEPT_HEADERS = ("content-type", "idempotency-key", "x-freefin-signature", "last-event-id")
RETRY_WINDOW_S = 300.0  # a create sent again within this long after a failure is its retry
# A server-side failure the client cannot tell from a success that was lost: it must retry
# with the same key. 499: the connection was dropped before any answer.
UNCERTAIN = frozenset({499, 500, 502, 503, 504})
VALIDATION_CODES = frozenset({"bad_request", "validation_error"})
POLL_WINDOW_S, POLL_LIMIT = 10.0, 10  # more reads of one object than this in the window
STORM_WINDOW_S, STORM_LIMIT = 2.0, 3  # more retries of one failed request than this
UNKNOWN_OPERATION = "no operation of the seed has this method and path"


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
    problems: list[dict[str, Any]]
    at: float
    response_problems: list[dict[str, Any]] | None  # None: the answer was not judged

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def evidence(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "at": self.at,
            "error": self.error_code,
            "message": self.error_message,
            "problems": self.problems,
            **({"response_problems": self.response_problems} if self.response_problems else {}),
        }


COLUMNS = (
    "seq, api, client, operation, method, url, headers, body, body_hash, idempotency_key, "
    "status, retry_after, error_code, error_message, problems, at, response_problems"
)


def record(
    tx: Tx,
    *,
    api: str,
    client: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    status: int,
    retry_after: float | None,
    error: tuple[str, str] | None,
    at: float,
    body_judged: bool = True,
    response_problems: list[operations.Problem] | None = None,
) -> None:
    """One request and its answer, with the seed operation it is for and what it breaks of it
    (``body_judged``: false for a body too large to hold; ``response_problems``: what the answer
    breaks of the seed, where it was judged)."""
    operation = operations.match(api, method, path)
    if operation is None:
        name, problems = "", [operations.Problem("path", UNKNOWN_OPERATION)]
    else:
        judged_body = body if body_judged else b""
        name, problems = operation.name, operation.problems(judged_body, query, headers, path)
        if not body_judged:
            problems = [p for p in problems if p.field.split(".")[0] != "body"]
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    url = path + ("?" + urlencode(list(query.items())) if query else "")
    tx.execute(
        "INSERT INTO client_requests (api, client, operation, method, url, headers, body, "
        "body_hash, idempotency_key, status, retry_after, error_code, error_message, problems, "
        "at, response_problems) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            api,
            client,
            name,
            method.upper(),
            url,
            json.dumps(kept),
            body[:BODY_KEPT].decode("utf-8", "replace"),
            hashlib.sha256(body).hexdigest(),
            next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None),
            status,
            retry_after,
            error[0] if error else None,
            error[1] if error else None,
            json.dumps([p.to_dict() for p in problems], ensure_ascii=False),
            at,
            None
            if response_problems is None
            else json.dumps([p.to_dict() for p in response_problems], ensure_ascii=False),
        ),
    )


def masked(credential: str) -> str:
    """A credential as the client report names it: enough to tell keys apart, never the key."""
    credential = credential.removeprefix("Bearer ").strip()
    return credential[:8] + "…" + credential[-4:] if len(credential) > 16 else "…"


def error_of(raw: bytes) -> tuple[str, str] | None:
    """(code, message) of either API's error envelope."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code")), str(error.get("message"))
    if isinstance(error, str):
        return error, str(body.get("message"))
    return None


def clear(store: Store) -> None:
    with store.tx() as tx:
        tx.execute("DELETE FROM client_requests")


def entries(store: Store, api: str | None = None) -> list[Entry]:
    where = " WHERE api=?" if api else ""
    sql = f"SELECT {COLUMNS} FROM client_requests{where} ORDER BY seq"
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
            problems=json.loads(row[14]),
            at=row[15],
            response_problems=None if row[16] is None else json.loads(row[16]),
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
    apis: tuple[str, ...] = ("freefin", "kaspi")
    side: str = "client"  # server: judged on the answers (the validating proxy only)


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
    "after a 429 (or a 503 with Retry-After), nothing is sent before Retry-After has passed",
    "major",
    "http: RFC 6585 section 4, RFC 9110 section 10.2.3",
    "on 429 or 503 wait at least Retry-After seconds (with jitter) before the next request of that "
    "credential; do not retry at once",
)
BOUNDED_BACKOFF = Rule(
    "client.bounded_backoff",
    f"no retry storm: at most {STORM_LIMIT} retries of a failed request within "
    f"{STORM_WINDOW_S:g} s",
    "major",
    "integration: retries with exponential backoff and a cap",
    "after a 5xx or a dropped connection wait before retrying, doubling the wait each time "
    "(with jitter) and giving up after a few attempts",
)
NO_TIGHT_POLLING = Rule(
    "client.no_tight_polling",
    f"no status polling: at most {POLL_LIMIT} reads of one object within {POLL_WINDOW_S:g} s",
    "minor",
    "seed: webhooks (both APIs) and the event stream (freefin) tell of every change",
    "learn of status changes from webhooks (or freefin's event stream); when you must poll, "
    "back off (1 s, 2 s, 4 s ...) and stop at a final status",
)
REQUEST_CONFORMANCE = Rule(
    "client.request_conformance",
    "requests hold to the seed: body, parameters and headers (types, required, enums, formats)",
    "major",
    "seed: each operation's requestBody and parameters",
    "send each request as the seed's operation declares it: every required field, the "
    "declared types and formats, known enum values, only the operations the seed has",
)
MONEY = Rule(
    "client.money",
    "amounts in the right unit and type",
    "critical",
    "seed: amount (freefin: integer kopecks; Kaspi: a number of tenge, two decimals at most)",
    'freefin: send kopecks as a JSON integer (19900, never 199.0 or "19900"); Kaspi: send '
    'tenge as a JSON number with at most two decimals (199.9, never "199.90")',
)
SIGNATURE = Rule(
    "client.signature_raw_body",
    "request signatures are over the raw bytes sent",
    "critical",
    "seed: X-Freefin-Signature (HMAC-SHA256 of the request body)",
    "serialise the body once, sign those bytes and send those same bytes; never sign a "
    "re-serialisation (spacing, key order and escaping change the bytes)",
    ("freefin",),
)
SSE_RESUME = Rule(
    "client.sse_resume",
    "the event stream is reopened with Last-Event-ID, so no event is lost",
    "major",
    "supplement#/events (Last-Event-ID resumes after the last event seen)",
    "keep the id: of the last event handled and send it as Last-Event-ID when the stream "
    "is reopened",
    ("freefin",),
)
SERVER_CONFORMANCE = Rule(
    "server.response_conformance",
    "answers hold to the seed: the body of each status the seed declares, against its schema",
    "major",
    "seed: each operation's responses",
    "the server (not the client) breaks the seed: report it to the API's provider, with the "
    "evidence",
    side="server",
)
SERVER_ERRORS = Rule(
    "server.no_server_errors",
    "the server answers no 5xx and is reachable (the proxy's own injected faults aside)",
    "major",
    "http: RFC 9110 section 15.6",
    "the server (not the client) failed: report it to the API's provider; the client should "
    "retry with the same Idempotency-Key",
    side="server",
)
RULES = (
    IDEMPOTENCY_KEY,
    SAME_KEY_ON_RETRY,
    HONOURS_RETRY_AFTER,
    BOUNDED_BACKOFF,
    NO_TIGHT_POLLING,
    REQUEST_CONFORMANCE,
    MONEY,
    SIGNATURE,
    SSE_RESUME,
    SERVER_CONFORMANCE,
    SERVER_ERRORS,
)


def _finding(
    rule: Rule, broken: list[Entry], judged: int, what: str, per: int = 1
) -> dict[str, Any]:
    """``per``: how many requests of ``broken`` make one breach (a failure and its retry: 2)."""
    verdict = "skipped" if judged == 0 else ("failed" if broken else "passed")
    detail = (
        f"no request to judge ({what})"
        if judged == 0
        else f"{len(broken) // per} of {judged} {what} broke the rule"
        if broken
        else f"{judged} {what}, all held"
    )
    causes = sorted({m for e in broken if (m := e.error_message) and ": " in m})
    if causes:
        detail += " (" + "; ".join(causes[:2]) + ")"
    return {
        "rule": rule.id,
        "side": rule.side,
        "title": rule.title,
        "severity": rule.severity,
        "verdict": verdict,
        "detail": detail,
        "fix": rule.fix,
        "source": rule.source,
        "evidence": [e.evidence() for e in broken[:3]],
    }


def _retries(made: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """The retries after an uncertain failure, and the pairs (failure, retry) under a new key."""
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
        if not failed.idempotency_key:  # no key at all: the idempotency_key rule's finding
            continue
        retries.append(retry)
        if retry.idempotency_key != failed.idempotency_key:
            double += [failed, retry]
    return retries, double


def _storms(log: list[Entry]) -> tuple[int, list[Entry]]:
    """Failures followed by a retry, and those followed by more retries than the limit allows."""
    judged, storms = 0, []
    for i, failed in enumerate(log):
        if failed.status not in UNCERTAIN:
            continue
        same = [
            e
            for e in log[i + 1 :]
            if (e.method, e.url, e.body_hash) == (failed.method, failed.url, failed.body_hash)
            and e.at - failed.at <= STORM_WINDOW_S
        ]
        if not same:
            continue
        judged += 1
        if len(same) > STORM_LIMIT and failed not in storms:
            storms += [failed, *same[: STORM_LIMIT + 1]]
    return judged, storms


def _polls(log: list[Entry], single: frozenset[str]) -> tuple[int, list[Entry]]:
    reads: dict[str, list[Entry]] = defaultdict(list)
    for e in log:
        if e.operation in single:
            reads[e.url].append(e)
    tight: list[Entry] = []
    for url_reads in reads.values():
        for i in range(len(url_reads) - POLL_LIMIT):
            window = url_reads[i : i + POLL_LIMIT + 1]
            if window[-1].at - window[0].at <= POLL_WINDOW_S:
                tight += [window[0], window[-1]]
                break
    return len(reads), tight


def _reopened(log: list[Entry], stream: str) -> tuple[int, list[Entry]]:
    opens = [e for e in log if e.operation == stream and e.status == 200]
    again = [b for a, b in itertools.pairwise(opens) if b.at - a.at <= RETRY_WINDOW_S]
    lost = [e for e in again if not e.header("Last-Event-ID") and "last_event_id=" not in e.url]
    return len(again), lost


def judge(log: Iterable[Entry], api: str) -> list[dict[str, Any]]:
    """Each rule of ``api`` judged over one client's requests (in the order they came)."""
    log = list(log)
    creates = operations.CREATES[api]
    made = [e for e in log if e.operation in creates]
    findings = [
        _finding(IDEMPOTENCY_KEY, [e for e in made if not e.idempotency_key], len(made), "creates")
    ]
    retries, double = _retries(made)
    findings.append(_finding(SAME_KEY_ON_RETRY, double, len(retries), "retries after a failure", 2))

    early: list[Entry] = []
    limited = [e for e in log if e.status == 429 or (e.status == 503 and e.retry_after)]
    for limit in limited:
        wait = limit.retry_after or 0
        following = next((e for e in log if e.seq > limit.seq), None)
        if following is not None and following.at - limit.at < wait - 0.05:
            early += [limit, following]
    findings.append(_finding(HONOURS_RETRY_AFTER, early, len(limited), "answers asking to wait", 2))

    judged, storms = _storms(log)
    findings.append(_finding(BOUNDED_BACKOFF, storms, judged, "failures retried", STORM_LIMIT + 2))
    judged, tight = _polls(log, operations.single_reads(api))
    findings.append(_finding(NO_TIGHT_POLLING, tight, judged, "objects read", 2))

    # a problem of the seed's schema, or a refusal the seed's schema does not explain (the
    # supplement's stricter rules); an amount's problems are the money rule's
    nonconforming = [
        e
        for e in log
        if any(not p["money"] for p in e.problems)
        or (not e.problems and e.status in (400, 422) and e.error_code in VALIDATION_CODES)
    ]
    findings.append(_finding(REQUEST_CONFORMANCE, nonconforming, len(log), "requests"))
    with_amount = [e for e in made if '"amount' in e.body or '_amount"' in e.body]
    wrong_money = [e for e in log if any(p["money"] for p in e.problems)]
    findings.append(_finding(MONEY, wrong_money, len(with_amount), "requests with an amount"))

    if api in SIGNATURE.apis:
        signed = [
            e
            for e in log
            if e.header("X-Freefin-Signature") or e.error_code == "signature_required"
        ]
        bad = [e for e in signed if e.error_code in ("invalid_signature", "signature_required")]
        findings.append(_finding(SIGNATURE, bad, len(signed), "signed requests"))
    if api in SSE_RESUME.apis:
        judged, lost = _reopened(log, operations.STREAMS[api])
        findings.append(_finding(SSE_RESUME, lost, judged, "reopened streams"))
    answers = [e for e in log if e.response_problems is not None]
    if answers:  # a proxy judged the server's answers too
        bad = [e for e in answers if e.response_problems]
        findings.append(_finding(SERVER_CONFORMANCE, bad, len(answers), "answers"))
        failed = [e for e in answers if e.status >= 500]
        findings.append(_finding(SERVER_ERRORS, failed, len(answers), "answers"))
    return findings


def report(store: Store) -> dict[str, Any]:
    """Every client's findings: ``{"clients": [{"api", "client", "requests", "findings"}]}``."""
    by_client: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries(store):
        by_client[(entry.api, entry.client)].append(entry)
    clients = []
    for (api, client), log in sorted(by_client.items()):
        findings = judge(log, api)
        clients.append({"api": api, "client": client, "requests": len(log), "findings": findings})
    return {"rules": [rule.id for rule in RULES], "clients": clients}
