"""The harness judges servers it did not grow up with: independent implementations of both APIs
(tests/foreign: other frameworks, other ids, envelopes and error codes, a low rate limit, no
control API, outcomes through the example hook and the servers' own test endpoints).

``paysim conform --contract-level spec`` passes each clean server (exit 0, nothing failed), and
fails each switchable bug (exit 1) with a failure that names the bug's kind. The bug runs are
narrowed to the suites (or the operation) that must catch them, and all runs go a few at a time.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.foreign import run as foreign

pytestmark = [
    pytest.mark.server,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.xdist_group("foreign_conformance"),  # the module's runs, made once
]


def _op(operation: str) -> list[str]:
    """The contract suite on one operation (its probes and checks)."""
    return ["--suite", "contract", "--contract-operation", operation]


# bug -> (conform arguments that narrow the run, a regex the failures must match)
FREEFIN_BUGS: dict[str, tuple[list[str], str]] = {
    "replay_duplicates": (["--suite", "scenarios", "-k", "replay"], r"(?i)payment\.id|replay"),
    "conflict_ignored": (["--suite", "scenarios", "-k", "another and body"], r"409"),
    "over_refund": (["--suite", "scenarios", "-k", "refund"], r"(?i)refund"),
    "refund_unpaid": (["--suite", "scenarios", "-k", "refund"], r"(?i)refund"),
    "signature_unchecked": (["--suite", "scenarios", "-k", "signature"], r"(?i)signature"),
    "amount_as_string": (_op("POST /api/v1/public/payments"), r"(?i)amount"),
    "create_200": (["--suite", "scenarios", "-k", "replay"], r"expected 201, got 200"),
    "no_retry_after": (["--suite", "contract", "-k", "rate_limit"], r"Retry-After"),
    "cancel_any_state": (["--suite", "scenarios", "-k", "cancel"], r"(?i)cancel"),
    "auth_ignored_get": (_op("GET /api/v1/public/payments/{id}"), r"(?i)auth"),
    "cross_merchant_read": (_op("GET /api/v1/public/payments/{id}"), r"(?i)merchant"),
    "crash_on_odd_input": (_op("POST /api/v1/public/payments"), r"(?i)server error|500"),
    "bad_bank_ids": (_op("GET /api/v1/public/banks/sbp"), r"member_id"),
    "key_length_unchecked": (["--suite", "scenarios", "-k", "64 and characters"], r"400"),
    "sse_silent": (["--suite", "scenarios", "-k", "stream or SSE or event"], r"(?i)event"),
    "zero_amount_accepted": (
        _op("POST /api/v1/public/payments"),
        r"(?i)amount|Schema-violating",
    ),
}
KASPI_BUGS: dict[str, tuple[list[str], str]] = {
    "replay_duplicates": (["--suite", "scenarios", "-k", "idempot or replay"], r"(?i)id"),
    "over_refund": (["--suite", "scenarios", "-k", "refund"], r"(?i)refund|amount"),
    "refund_unpaid": (["--suite", "scenarios", "-k", "refund"], r"(?i)refund|409"),
    "cancel_paid": (["--suite", "scenarios", "-k", "cancel"], r"(?i)cancel"),
    "string_amount_coerced": (["--suite", "scenarios", "-k", "coerced"], r"expected 400"),
    "page_size_ignored": (["--suite", "scenarios", "-k", "paged"], r"page_size|@items"),
    "webhook_test_silent": (
        ["--suite", "scenarios", "-k", "endpoint and sends"],
        r"(?i)count|deliver",
    ),
    "delivery_retry_ignored": (
        ["--suite", "scenarios", "-k", "real and time"],
        r"the retry is delivered",
    ),
    "dead_letter_dropped": (["--suite", "scenarios", "-k", "real and time"], r"dead letter stays"),
    "webhook_test_unlogged": (
        ["--suite", "scenarios", "-k", "endpoint and sends"],
        r"delivery log records",
    ),
    "webhook_bad_signature": (["--suite", "scenarios", "-k", "signed"], r"(?i)sign"),
    "auth_ignored_get": (_op("GET /v1/invoices/{id}"), r"(?i)auth"),
    "cross_merchant_read": (_op("GET /v1/invoices/{id}"), r"(?i)merchant"),
    "crash_on_odd_input": (_op("POST /v1/invoices"), r"(?i)server error|500"),
    "create_200": (_op("POST /v1/invoices"), r"(?i)status"),
    "no_retry_after": (["--suite", "contract", "-k", "rate_limit"], r"Retry-After"),
    "unconnected_creates": (["--suite", "scenarios", "-k", "connection"], r"409"),
    "sandbox_any_invoice": (["--suite", "scenarios", "-k", "sandbox"], r"simulate is refused"),
    "amount_as_number": (_op("POST /v1/invoices"), r"(?i)amount"),
}
BUGS = {"freefin": FREEFIN_BUGS, "kaspi": KASPI_BUGS}


def _run(api: str, bugs: list[str], report: Path, args: list[str]) -> foreign.Verdict:
    with foreign.serving(api, bugs) as base:
        return foreign.conform(api, base, report, *args)


NO_WEBHOOKS = "profile: no webhooks"


def _without_webhooks(api: str, report: Path) -> foreign.Verdict:
    """The server's own profile, saying it sends no webhooks: the scenarios that need them are
    not run, for that reason, and nothing fails."""
    profile = yaml.safe_load(foreign.PROFILES[api].read_text(encoding="utf-8"))
    profile[api]["features"]["webhooks"] = False
    report.mkdir(parents=True, exist_ok=True)
    path = report / "no-webhooks.profile.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    with foreign.serving(api) as base:
        return foreign.conform(
            api, base, report, "--suite", "scenarios", "-k", "webhook", profile=path
        )


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], foreign.Verdict]:
    """Every run of the module, a few at a time: each API clean ("") and with each bug."""
    root = tmp_path_factory.mktemp("foreign")
    jobs = [(api, "") for api in BUGS] + [(api, bug) for api in BUGS for bug in sorted(BUGS[api])]
    jobs.append(("kaspi", NO_WEBHOOKS))

    def one(job: tuple[str, str]) -> tuple[tuple[str, str], foreign.Verdict]:
        api, bug = job
        if bug == NO_WEBHOOKS:
            return job, _without_webhooks(api, root / f"{api}-no-webhooks")
        args = BUGS[api][bug][0] if bug else []
        return job, _run(api, [bug] if bug else [], root / f"{api}-{bug or 'clean'}", args)

    # The clean runs first: they are the longest. The runs wait on sockets and rate limits
    # more than they compute, so more of them than cores run at once.
    with ThreadPoolExecutor(max_workers=5) as pool:
        return dict(pool.map(one, jobs))


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_a_clean_independent_server_passes(
    api: str, verdicts: dict[tuple[str, str], foreign.Verdict]
) -> None:
    verdict = verdicts[(api, "")]
    totals = verdict.summary.get("totals", {})
    assert verdict.code == 0, verdict.failure_text() or verdict.output[-3000:]
    assert totals.get("failed") == 0 and totals.get("passed", 0) > 0, totals
    covered = verdict.summary["coverage"][api]
    assert covered["failed"] == 0, covered
    print(
        f"{api} clean: {totals} waited {verdict.summary['rate_limit_waits'].get('waited_s')} s "
        f"on 429, {len(verdict.summary.get('departures', []))} departures; seed promises "
        f"proved {covered['proved']} of {covered['total']} ({covered['percent']}%), not "
        f"exercised: {covered['reasons']}"
    )


def test_a_server_without_webhooks_that_says_so_passes_and_the_map_says_why(
    verdicts: dict[tuple[str, str], foreign.Verdict],
) -> None:
    verdict = verdicts[("kaspi", NO_WEBHOOKS)]
    assert verdict.code == 0, verdict.failure_text() or verdict.output[-3000:]
    entries = {e["id"]: e for e in verdict.summary["coverage"]["kaspi"]["entries"]}
    assert entries["webhooks.test"]["status"] == "not exercised"
    assert entries["webhooks.test"]["why"] == "PROFILE"
    skipped = verdict.summary["counts"]["scenarios"]["skipped"]
    assert skipped >= 5 and verdict.summary["counts"]["scenarios"]["failed"] == 0


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_every_bug_of_an_independent_server_is_caught(
    api: str, verdicts: dict[tuple[str, str], foreign.Verdict]
) -> None:
    table = BUGS[api]
    missed = []
    for bug, (_args, pattern) in sorted(table.items()):
        verdict = verdicts[(api, bug)]
        if verdict.code != 1 or not re.search(pattern, verdict.failure_text()):
            missed.append(f"{bug}: exit {verdict.code}; failures:\n{verdict.failure_text()[:800]}")
    print(f"{api}: {len(table) - len(missed)} of {len(table)} bugs caught")
    assert not missed, "\n\n".join(missed)
