"""The client rules judged over logs made here (no server): each rule fails for the log that
breaks it and for no other, says what it did not see, and the signature hint names each usual
re-serialisation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.core import signing
from simulator.core.engines import open_store
from simulator.core.store import Store
from simulator.grading import client_log, client_report, client_rules, exam, operations
from simulator.grading.client_log import Entry
from tests.conftest import ENGINES, database

PAYMENTS = "/api/v1/public/payments"


def entry(seq: int, at: float, status: int = 201, **kw: Any) -> Entry:
    body = kw.pop("body", json.dumps({"amount": 100, "currency": "RUB", "order_id": "o-1"}))
    key = kw.pop("key", "k-1")
    url = kw.pop("url", PAYMENTS)
    method = kw.pop("method", "POST")
    operation = operations.match("freefin", method, url)
    raw = body.encode()
    return Entry(
        seq=seq,
        api="freefin",
        client="c",
        operation=operation.name if operation else "",
        method=method,
        url=url,
        headers={"Idempotency-Key": key} if key else {},
        body=body,
        body_hash=hashlib.sha256(raw).hexdigest(),
        idempotency_key=key,
        status=status,
        retry_after=kw.pop("retry_after", None),
        error_code=kw.pop("error_code", None),
        error_message=None,
        problems=[p.to_dict() for p in (operation.problems(raw, {}, {}, url) if operation else [])],
        at=at,
        response_problems=None,
        exam=kw.pop("exam", None),
    )


def verdicts(log: list[Entry], level: str = "spec") -> dict[str, str]:
    return {f["rule"]: f["verdict"] for f in client_rules.judge(log, "freefin", level=level)}


def failed(log: list[Entry], level: str = "spec") -> set[str]:
    return {rule for rule, v in verdicts(log, level).items() if v == "failed"}


def test_a_retry_with_the_same_key_and_another_body_is_judged_and_fails() -> None:
    changed = json.dumps({"amount": 101, "currency": "RUB", "order_id": "o-1"})
    log = [entry(1, 0.0, 500, exam="lost_answer"), entry(2, 0.5, 409, body=changed)]
    assert failed(log) == {"client.same_key_on_retry"}
    (finding,) = [
        f for f in client_rules.judge(log, "freefin") if f["rule"] == "client.same_key_on_retry"
    ]
    assert "another body" in finding["detail"] and "409" in finding["detail"]
    same = [entry(1, 0.0, 500), entry(2, 0.5, 201)]
    assert verdicts(same)["client.same_key_on_retry"] == "passed"


def test_retries_and_creates_are_counted_apart() -> None:
    other = json.dumps({"amount": 200, "currency": "RUB", "order_id": "o-2"})
    log = [
        entry(1, 0.0, 500),
        entry(2, 0.3, 201),  # its retry
        entry(3, 1.0, 429, key="k-2", body=other, retry_after=1),
        entry(4, 2.1, 201, key="k-2", body=other),  # its retry
    ]
    (finding,) = [
        f for f in client_rules.judge(log, "freefin") if f["rule"] == "client.idempotency_key"
    ]
    assert "2 objects asked for, 2 retries" in finding["detail"], finding["detail"]


def test_a_create_sent_again_while_a_slow_one_is_unanswered_needs_its_key() -> None:
    slow = entry(2, 2.0, 201, exam="slow")
    impatient = entry(1, 1.1, 201, key="k-new")  # answered first, sent after 1 s
    assert failed([impatient, slow]) == {"client.same_key_on_retry"}
    patient = entry(1, 1.1, 201)
    assert failed([patient, slow]) == set()


def test_a_storm_over_an_outage_fails_bounded_backoff_and_a_backoff_passes() -> None:
    storm = [entry(i, i * 0.01, 503, exam="outage") for i in range(4)] + [entry(4, 0.05)]
    assert failed(storm) == {"client.bounded_backoff"}
    waits = [0.0, 0.2, 0.6, 1.4, 3.0]
    backoff = [entry(i, at, 503 if i < 4 else 201) for i, at in enumerate(waits)]
    assert failed(backoff) == set()
    assert verdicts(backoff)["client.bounded_backoff"] == "passed"


def test_a_failure_met_and_not_retried_exercises_the_retry_rules() -> None:
    log = [entry(1, 0.0, 502, exam="error_before")]
    got = verdicts(log)
    assert got["client.same_key_on_retry"] == "passed"
    assert got["client.bounded_backoff"] == "passed"


def test_a_rule_with_nothing_to_judge_says_how_to_meet_it() -> None:
    log = [entry(1, 0.0, 404, method="GET", url=PAYMENTS + "/x", key=None, body="")]
    how = {
        "client.same_key_on_retry": exam.how("client.same_key_on_retry", "freefin", False, set())
    }
    findings = {f["rule"]: f for f in client_rules.judge(log, "freefin", how)}
    same_key = findings["client.same_key_on_retry"]
    assert same_key["verdict"] == "not_exercised"
    assert "--exam" in same_key["to_meet"] and "POST /api/v1/public/payments" in same_key["to_meet"]
    assert findings["client.no_tight_polling"]["verdict"] == "passed"


@pytest.mark.parametrize(
    ("typo", "meant"), [("order_Id", "order_id"), ("descripton", "description")]
)
def test_a_misspelt_field_is_a_warning_at_spec_and_a_failure_at_strict(
    typo: str, meant: str
) -> None:
    body = json.dumps({"amount": 100, "currency": "RUB", typo: "x"})
    log = [entry(1, 0.0, 201, body=body)]
    assert failed(log) == set()
    spec = {f["rule"]: f for f in client_rules.judge(log, "freefin")}["client.field_names"]
    assert spec["verdict"] == "passed" and f"did you mean {meant}?" in spec["detail"]
    assert failed(log, "strict") == {"client.field_names"}


def test_an_unknown_field_far_from_any_seed_field_is_no_finding() -> None:
    body = json.dumps({"amount": 100, "currency": "RUB", "shop_reference": "x"})
    assert failed([entry(1, 0.0, 201, body=body)], "strict") == set()


SENT = {"amount": 100, "description": "Чай", "currency": "RUB"}


@pytest.mark.parametrize(
    ("signed", "named"),
    [
        (json.dumps(SENT, indent=2), "JSON indented by 2"),
        (json.dumps(SENT, indent=4, sort_keys=True), "JSON indented by 4, keys sorted"),
        (json.dumps(SENT, separators=(",", ":")), "compact JSON, non-ASCII escaped"),
        (json.dumps(SENT, ensure_ascii=False, sort_keys=True), "keys sorted, non-ASCII unescaped"),
        (
            json.dumps(SENT, separators=(",", ":"), ensure_ascii=False) + "\n",
            "compact JSON, non-ASCII unescaped, a trailing newline",
        ),
        (json.dumps(SENT, indent="\t", ensure_ascii=False), "JSON indented by a tab"),
    ],
)
def test_the_signature_hint_names_each_usual_reserialisation(signed: str, named: str) -> None:
    sent = json.dumps(SENT, separators=(",", ":"), ensure_ascii=False).encode()
    cause = signing.mismatch_cause("s", sent, signing.sign("s", signed.encode()))
    assert cause is not None and named in cause, cause


def test_the_signature_hint_names_a_trailing_newline_left_out() -> None:
    sent = json.dumps(SENT).encode()
    cause = signing.mismatch_cause("s", sent + b"\n", signing.sign("s", sent))
    assert cause is not None and "trailing newline" in cause
    assert signing.mismatch_cause("s", sent, signing.sign("s", b"other")) is None


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(database(request, request.param, str(tmp_path / "exam.db"))))
    yield opened
    opened.close()


def test_the_exam_gives_each_situation_once_in_order_and_spares_retries(store: Store) -> None:
    """On both engines: the first request a 429; then each new create its situation; a retry
    (the same path and bytes) none, but the outage's run of 503s; the stream its cut."""
    given = []
    creates = [exam.fingerprint("POST", PAYMENTS, f"order {n}".encode()) for n in range(5)]
    plan = [
        (exam.REQUEST, "read"),
        (exam.CREATE, creates[0]),
        (exam.CREATE, creates[0]),  # its retry
        (exam.CREATE, creates[1]),
        (exam.CREATE, creates[2]),
        (exam.CREATE, creates[3]),
        *[(exam.CREATE, creates[3])] * exam.OUTAGE_RUN,  # the outage, on its retries
        (exam.CREATE, creates[4]),
        (exam.STREAM, "stream"),
        (exam.STREAM, "stream again"),
        (exam.CREATE, "one more"),
    ]
    for kind, fingerprint in plan:
        situation = exam.next_situation(store, "freefin", "c", kind, fingerprint)
        given.append(situation.name if situation else None)
    assert given == [
        "rate_limited",
        "lost_answer",
        None,
        "dropped",
        "error_before",
        *["outage"] * exam.OUTAGE_RUN,
        None,  # the outage's request, sent once more: it passes
        "slow",
        "stream_cut",
        None,
        None,
    ]
    assert exam.met(store)[("freefin", "c")] == {s.name for s in exam.SITUATIONS}
    exam.clear(store)
    assert exam.next_situation(store, "freefin", "c", exam.REQUEST, "x") is not None


def test_any_bytes_a_client_sends_are_logged_and_judged_on_both_engines(store: Store) -> None:
    body = b'{"amount": 100, "order_id": "\x00\x1b\xff\xfe"}'
    with store.tx() as tx:
        client_log.record(
            tx,
            api="freefin",
            client="c",
            method="POST",
            path=PAYMENTS,
            query={},
            headers={"Idempotency-Key": "k\x00"},
            body=body,
            status=400,
            retry_after=None,
            error=("bad_request", "order_id: \x00"),
            at=1.0,
        )
    (client,) = client_report.report(store)["clients"]
    (entry,) = client_log.entries(store)
    assert entry.body_hash == hashlib.sha256(body).hexdigest()  # of the bytes as sent
    assert "\x00" not in entry.body and "\\x00" in entry.body
    assert client["requests"] == 1


def test_a_body_with_backticks_and_lines_stays_inside_its_markdown_fence() -> None:
    from harness.grading.findings import Evidence, Finding, Grade

    body = b'{"order_id": "```\\n# not a heading\\n<script>x</script>\\n````"}\n\x00'
    evidence = [Evidence("POST", "http://h/p", {}, body, status=400, answer="no")]
    finding = Finding("r", "t", "major", False, "d", "f", "s", evidence)
    markdown = Grade("API client", "here", [finding]).markdown()
    fence = "`" * 5  # longer than the body's longest run (4)
    assert markdown.count(fence) == 2 and "\x00" not in markdown
    inside = markdown.split(fence)[1]
    assert "# not a heading" in inside and "<script>" in inside
