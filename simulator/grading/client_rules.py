"""The integration rules a client's requests are judged by (``client_log`` keeps the requests).

Each rule is judged over one client's log, in the order the requests came, in time linear in its
length (one pass, or one pass per group of the same request). A rule with nothing to judge is
*not exercised*: the finding says which situation the client never met and how to meet it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.grading import operations
from simulator.grading.patterns import (
    POLL_LIMIT,
    POLL_WINDOW_S,
    STORM_LIMIT,
    STORM_WINDOW_S,
    polls,
    reopened,
    retries,
    storms,
    waits,
)

if TYPE_CHECKING:
    from simulator.grading.client_log import Entry

VALIDATION_CODES = frozenset({"bad_request", "validation_error"})

NOT_EXERCISED = "not_exercised"
LEVELS = ("spec", "strict")  # spec: only what the seed says fails; strict: warnings fail too
CREATE = "a create (freefin: POST /api/v1/public/payments; Kaspi: POST /api/v1/invoices)"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    source: str
    fix: str
    meet: str  # the situation the rule judges the client in, and the request that meets it
    apis: tuple[str, ...] = ("freefin", "kaspi")
    side: str = "client"  # server: judged on the answers (the validating proxy only)


IDEMPOTENCY_KEY = Rule(
    "client.idempotency_key",
    "every create carries an Idempotency-Key",
    "major",
    "supplement#/idempotency",
    "send an Idempotency-Key (a UUID made once per intended object) with every create, so "
    "that a retry can never create a second one",
    f"{CREATE}",
)
SAME_KEY_ON_RETRY = Rule(
    "client.same_key_on_retry",
    "after a failure that may have happened server-side, the retry has the same key and body",
    "critical",
    "supplement#/idempotency",
    "keep the key with the intended object and send the retry with the same key and the same "
    "body; a new key after a 5xx, a timeout or a dropped connection can charge twice",
    f"{CREATE} whose answer is lost (a 5xx, or the connection dropped), then retried",
)
HONOURS_RETRY_AFTER = Rule(
    "client.honours_retry_after",
    "after a 429 (or a 503 with Retry-After), nothing is sent before Retry-After has passed",
    "major",
    "http: RFC 6585 section 4, RFC 9110 section 10.2.3",
    "on 429 or 503 wait at least Retry-After seconds (with jitter) before the next request of that "
    "credential; do not retry at once",
    "any request answered 429 with Retry-After",
)
BOUNDED_BACKOFF = Rule(
    "client.bounded_backoff",
    f"no retry storm: at most {STORM_LIMIT} retries of a failed request within "
    f"{STORM_WINDOW_S:g} s",
    "major",
    "integration: retries with exponential backoff and a cap",
    "after a 5xx or a dropped connection wait before retrying, doubling the wait each time "
    "(with jitter) and giving up after a few attempts",
    f"{CREATE} answered by a run of 503s (an outage), retried",
)
NO_TIGHT_POLLING = Rule(
    "client.no_tight_polling",
    f"no status polling: at most {POLL_LIMIT} reads of one object within {POLL_WINDOW_S:g} s",
    "minor",
    "seed: webhooks (both APIs) and the event stream (freefin) tell of every change",
    "learn of status changes from webhooks (or freefin's event stream); when you must poll, "
    "back off (1 s, 2 s, 4 s ...) and stop at a final status",
    "a read of one object by its id (freefin: GET /api/v1/public/payments/{id}; Kaspi: "
    "GET /api/v1/invoices/{id})",
)
REQUEST_CONFORMANCE = Rule(
    "client.request_conformance",
    "requests hold to the seed: body, parameters and headers (types, required, enums, formats)",
    "major",
    "seed: each operation's requestBody and parameters",
    "send each request as the seed's operation declares it: every required field, the "
    "declared types and formats, known enum values, only the operations the seed has",
    "any request to the API",
)
FIELD_NAMES = Rule(
    "client.field_names",
    "no request field is a misspelt seed field (order_Id for order_id): its value is lost",
    "major",
    "seed: each operation's requestBody properties (unknown fields allowed, so ignored); a "
    "warning at level spec, a failure at level strict",
    "spell each field as the seed does (the finding says which it was meant to be); a field "
    "the server does not know is dropped without a word",
    "a request with a JSON body",
)
MONEY = Rule(
    "client.money",
    "amounts in the right unit and type",
    "critical",
    "seed: amount (freefin: integer kopecks; Kaspi: a number of tenge, two decimals at most)",
    'freefin: send kopecks as a JSON integer (19900, never 199.0 or "19900"); Kaspi: send '
    'tenge as a JSON number with at most two decimals (199.9, never "199.90")',
    f"{CREATE} with an amount",
)
SIGNATURE = Rule(
    "client.signature_raw_body",
    "request signatures are over the raw bytes sent",
    "critical",
    "seed: X-Freefin-Signature (HMAC-SHA256 of the request body)",
    "serialise the body once, sign those bytes and send those same bytes; never sign a "
    "re-serialisation (spacing, key order and escaping change the bytes)",
    "a POST with X-Freefin-Signature (from a terminal that requires signatures)",
    ("freefin",),
)
SSE_RESUME = Rule(
    "client.sse_resume",
    "the event stream is reopened with Last-Event-ID, so no event is lost",
    "major",
    "supplement#/events (Last-Event-ID resumes after the last event seen)",
    "keep the id: of the last event handled and send it as Last-Event-ID when the stream "
    "is reopened",
    "the event stream (GET /api/v1/public/events) ended after an event, then reopened",
    ("freefin",),
)
SERVER_CONFORMANCE = Rule(
    "server.response_conformance",
    "answers hold to the seed: the body of each status the seed declares, against its schema",
    "major",
    "seed: each operation's responses",
    "the server (not the client) breaks the seed: report it to the API's provider, with the "
    "evidence",
    "any request forwarded by the proxy",
    side="server",
)
SERVER_ERRORS = Rule(
    "server.no_server_errors",
    "the server answers no 5xx and is reachable (the proxy's own injected faults aside)",
    "major",
    "http: RFC 9110 section 15.6",
    "the server (not the client) failed: report it to the API's provider; the client should "
    "retry with the same Idempotency-Key",
    "any request forwarded by the proxy",
    side="server",
)
RULES = (
    IDEMPOTENCY_KEY,
    SAME_KEY_ON_RETRY,
    HONOURS_RETRY_AFTER,
    BOUNDED_BACKOFF,
    NO_TIGHT_POLLING,
    REQUEST_CONFORMANCE,
    FIELD_NAMES,
    MONEY,
    SIGNATURE,
    SSE_RESUME,
    SERVER_CONFORMANCE,
    SERVER_ERRORS,
)


def finding(
    rule: Rule,
    broken: Sequence[Entry],
    judged: int,
    what: str,
    per: int = 1,
    how: str = "",
) -> dict[str, Any]:
    """``per``: how many requests of ``broken`` make one breach (a failure and its retry: 2);
    ``how``: what makes the situation come, when the rule was not exercised."""
    verdict = NOT_EXERCISED if judged == 0 else ("failed" if broken else "passed")
    if judged == 0:
        detail = f"not exercised: the client never met {rule.meet}" + (f"; {how}" if how else "")
    elif broken:
        detail = f"{len(broken) // per} of {judged} {what} broke the rule"
    else:
        detail = f"{judged} {what}, all held"
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
        **({"to_meet": rule.meet + (f"; {how}" if how else "")} if judged == 0 else {}),
        "evidence": [e.evidence() for e in broken[:3]],
    }


def judge(
    log: Sequence[Entry], api: str, how: dict[str, str] | None = None, level: str = "spec"
) -> list[dict[str, Any]]:
    """Each rule of ``api`` judged over one client's requests (in the order they came);
    ``how``: per rule id, what makes its situation come where it did not; ``level``: at spec
    a near-miss field name is a warning, at strict a failure."""
    how = how or {}

    def out(rule: Rule, broken: Sequence[Entry], judged: int, what: str, per: int = 1) -> None:
        findings.append(finding(rule, broken, judged, what, per, how.get(rule.id, "")))

    findings: list[dict[str, Any]] = []
    creates = operations.CREATES[api]
    made = [e for e in log if e.operation in creates]
    again = retries(made)
    keyless = [e for e in made if not e.idempotency_key]
    out(
        IDEMPOTENCY_KEY,
        keyless,
        len(made),
        f"creates ({len(made) - again.retries} objects asked for, {again.retries} retries)",
    )
    double = again.broken or []
    out(SAME_KEY_ON_RETRY, double, again.judged, "failures, slow answers and keys sent again", 2)
    if again.changed:
        findings[-1]["detail"] += (
            f"; {len(again.changed) // 2} sent a key again with another body (answered "
            f"{again.changed[1].status}): a key stands for one request, its bytes unchanged"
        )
    judged, early = waits(log)
    out(HONOURS_RETRY_AFTER, early, judged, "answers asking to wait", 2)
    judged, storm = storms(log)
    out(BOUNDED_BACKOFF, storm, judged, "failures met", STORM_LIMIT + 2)
    judged, tight = polls(log, operations.single_reads(api))
    out(NO_TIGHT_POLLING, tight, judged, "objects read", 2)

    # a problem of the seed's schema, or a refusal the seed's schema does not explain (the
    # supplement's stricter rules); an amount's problems are the money rule's
    nonconforming = [
        e
        for e in log
        if any(not p["money"] and not p.get("near_miss") for p in e.problems)
        or (not e.problems and e.status in (400, 422) and e.error_code in VALIDATION_CODES)
    ]
    out(REQUEST_CONFORMANCE, nonconforming, len(log), "requests")
    with_body = [e for e in log if e.body.lstrip().startswith("{")]
    misspelt = [e for e in with_body if any(p.get("near_miss") for p in e.problems)]
    names = sorted(
        {f"{p['field']} {p['message']}" for e in misspelt for p in e.problems if p.get("near_miss")}
    )
    out(FIELD_NAMES, misspelt if level == "strict" else [], len(with_body), "requests with a body")
    if names:
        findings[-1]["warnings"] = names
        findings[-1]["detail"] += (
            f"; {len(misspelt)} with a misspelt field name"
            + (" (a warning at level spec, a failure at strict)" if level != "strict" else "")
            + ": "
            + "; ".join(names[:3])
        )
        if level != "strict":
            findings[-1]["evidence"] = [e.evidence() for e in misspelt[:3]]
    with_amount = [e for e in made if '"amount' in e.body or '_amount"' in e.body]
    wrong_money = [e for e in log if any(p["money"] for p in e.problems)]
    out(MONEY, wrong_money, len(with_amount), "requests with an amount")

    if api in SIGNATURE.apis:
        signed = [
            e
            for e in log
            if e.header("X-Freefin-Signature") or e.error_code == "signature_required"
        ]
        bad = [e for e in signed if e.error_code in ("invalid_signature", "signature_required")]
        out(SIGNATURE, bad, len(signed), "signed requests")
    if api in SSE_RESUME.apis:
        judged, lost = reopened(log, operations.STREAMS[api])
        out(SSE_RESUME, lost, judged, "reopened streams")
    answers = [e for e in log if e.response_problems is not None]
    if answers:  # a proxy judged the server's answers too
        bad = [e for e in answers if e.response_problems]
        out(SERVER_CONFORMANCE, bad, len(answers), "answers")
        failed = [e for e in answers if e.status >= 500]
        out(SERVER_ERRORS, failed, len(answers), "answers")
    return findings
