"""Every scenario has teeth: it passes on the clean simulator and fails with the defect it exists
to catch switched on (``POST /_sim/defects``).

``TEETH`` pairs each scenario with the catalog's defects it must catch, and names the step (or
the problem) that must catch each: a scenario that fails somewhere else with the defect on has
no teeth for it. Every scenario needs at least one pairing, with a defect that exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from harness.profile import SIMULATOR_PROFILE
from harness.scenarios.loader import Scenario, load_file
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import Departure, ScenarioFailure, run_scenario
from harness.target import Target

ROOT = Path(__file__).resolve().parent.parent / "scenarios"

# (file, scenario) -> [(defect, what must catch it)]: the name of the failing step, or a
# substring of one of its problems. A failure anywhere else does not count, so a pairing cannot
# pass because something incidental broke.
TEETH: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("freefin/webhooks.yaml", "a cancel sends payment.cancelled"): [
        ("freefin.cancel_event_missing", "payment.cancelled arrives")
    ],
    ("freefin/lifecycle.yaml", "the event stream sends a heartbeat within 25 seconds"): [
        ("freefin.sse_no_heartbeat", "a heartbeat arrives")
    ],
    # freefin/idempotency.yaml
    ("freefin/idempotency.yaml", "a replay returns 200 and the same payment"): [
        ("freefin.idempotency_duplicate", "replay the same request")
    ],
    ("freefin/idempotency.yaml", "the same key with another body is a 409 conflict"): [
        ("freefin.idempotency_duplicate", "same key, another amount")
    ],
    (
        "freefin/idempotency.yaml",
        "50 concurrent requests with one key create exactly one payment",
    ): [("freefin.idempotency_duplicate", "results: number of 201 responses: expected 1")],
    ("freefin/idempotency.yaml", "a refused request stores nothing under its key"): [
        ("freefin.idempotency_stores_errors", "the corrected request with the same key"),
        ("freefin.idempotency_duplicate", "its replay"),
    ],
    ("freefin/idempotency.yaml", "a key is scoped to its terminal and merchant"): [
        ("freefin.idempotency_global_scope", "another terminal of merchant A, same key and body")
    ],
    ("freefin/idempotency.yaml", "a key of 64 characters is accepted and one of 65 is refused"): [
        ("freefin.idempotency_key_unbounded", "65 characters")
    ],
    (
        "freefin/idempotency.yaml",
        "a payout replay returns 200 and the same payout, another body a 409",
    ): [("freefin.idempotency_duplicate", "replay the same payout")],
    # freefin/refunds.yaml
    ("freefin/refunds.yaml", "a partial refund, one over the remainder, then the remainder"): [
        ("freefin.refund_over_remainder", "refund 800 of the 700 left")
    ],
    ("freefin/refunds.yaml", "an amount of 0 refunds the whole payment"): [
        ("freefin.refund_zero_amount", "body amount: expected 2500")
    ],
    ("freefin/refunds.yaml", "a payment that has not succeeded cannot be refunded"): [
        ("freefin.refund_any_status", "refund a pending payment")
    ],
    ("freefin/refunds.yaml", "concurrent partial refunds never sum above the amount"): [
        ("freefin.refund_over_remainder", "results: sum of amount among 2xx")
    ],
    ("freefin/refunds.yaml", "each refund sends a signed payment.refunded webhook and event"): [
        ("freefin.webhook_unsigned", "signed:"),
        ("freefin.webhook_bad_signature", "signed:"),
    ],
    # freefin/signatures.yaml
    **{
        ("freefin/signatures.yaml", name): [("freefin.signature_not_checked", code)]
        for name, code in (
            (
                "a signed terminal refuses a request without a signature",
                'error.code: expected "signature_required"',
            ),
            ("a signature made with another secret is invalid", "invalid_signature"),
            ("a tampered body is invalid", "invalid_signature"),
            ("a signature over re-serialized JSON is invalid", "invalid_signature"),
            ("a signature with another prefix is invalid", "invalid_signature"),
            ("a signature in upper-case hex is invalid", "invalid_signature"),
            ("a signature of a body that was not sent is invalid", "invalid_signature"),
        )
    },
    ("freefin/signatures.yaml", "the exact signature of the raw body passes"): [
        ("freefin.signature_over_parsed_json", "the same bytes in another layout, signed as sent")
    ],
    # freefin/webhooks.yaml
    ("freefin/webhooks.yaml", "a lifecycle sends each event once, signed, with its own id"): [
        ("freefin.webhook_unsigned", "signed:"),
        ("freefin.webhook_bad_signature", "signed:"),
        ("freefin.event_id_reused", "unique_ids: event id"),
    ],
    ("freefin/webhooks.yaml", "a delivery answered 500 is retried after 5 s, then after 30 s"): [
        ("webhooks.no_retry", "attempts: expected 2, got 1"),
        ("webhooks.early_retry", "not retried before 5 s"),
        ("webhooks.duplicate_delivery", "attempts: expected 3, got 4"),
        ("freefin.webhook_bad_signature", "signed:"),
    ],
    (
        "kaspi/webhooks.yaml",
        "in real time, a delivery that keeps failing is queued, given up, and retried on request",
    ): [
        ("webhooks.no_dead_letter", "no attempt after giving up"),
        ("webhooks.retry_request_ignored", "the retry is delivered"),
        ("webhooks.no_retry", "the event was tried again before"),
    ],
    ("freefin/webhooks.yaml", "a delivery that times out is retried"): [
        ("webhooks.no_retry", "attempts: expected 2, got 1")
    ],
    ("freefin/webhooks.yaml", "after the last attempt a delivery is dead-lettered"): [
        ("webhooks.no_dead_letter", "no attempt after the sixth"),
        ("webhooks.no_retry", "attempts: expected 2, got 1"),
    ],
    ("freefin/webhooks.yaml", "the delivery log shows the dead letter"): [
        ("webhooks.no_dead_letter", "the log lists it dead after six attempts"),
        ("webhooks.no_retry", "attempts: expected 2, got 1"),
    ],
    ("freefin/webhooks.yaml", "no event is lost while the receiver is down"): [
        ("webhooks.no_retry", "attempts: expected 8, got 4"),
        ("webhooks.duplicate_delivery", "attempts: expected 8, got"),
    ],
    # freefin/lifecycle.yaml
    ("freefin/lifecycle.yaml", "only a pending payment can be cancelled"): [
        ("freefin.cancel_any_status", "cancel again")
    ],
    ("freefin/lifecycle.yaml", "a pending payment expires at expires_at on the clock"): [
        ("freefin.expiry_ignored", 'body status: expected "expired"'),
        ("freefin.events_out_of_order", "kinds: expected"),
    ],
    (
        "freefin/lifecycle.yaml",
        "the SSE stream carries a lifecycle in order, with ids, and resumes after an id",
    ): [
        ("freefin.events_out_of_order", "kinds: expected"),
        ("freefin.sse_no_resume", "unique_ids: an event (payment.created) has no id"),
    ],
    ("freefin/lifecycle.yaml", "a merchant cannot see or act on another merchant's payment"): [
        ("freefin.isolation_broken", "merchant B cannot read it")
    ],
    ("freefin/lifecycle.yaml", "payouts go to a bank of the SBP directory"): [
        ("freefin.payout_any_bank", "a bank that is not in the directory")
    ],
    (
        "freefin/lifecycle.yaml",
        "a failed payout says why and sends payout.failed to the terminal's endpoint",
    ): [("freefin.failure_event_missing", "the failure's events")],
    ("freefin/lifecycle.yaml", "requests without a valid key are refused"): [
        ("freefin.auth_ignored", "no key")
    ],
    (
        "freefin/lifecycle.yaml",
        "over the merchant's rate limit the answer is 429 with Retry-After",
    ): [("freefin.no_retry_after", "header Retry-After")],
    # kaspi/idempotency.yaml
    ("kaspi/idempotency.yaml", "a replay answers the first response again"): [
        ("kaspi.idempotency_duplicate", "replay")
    ],
    ("kaspi/idempotency.yaml", "the same key with another body is a 409 conflict"): [
        ("kaspi.idempotency_duplicate", 'body error: expected "idempotency_conflict"')
    ],
    ("kaspi/idempotency.yaml", "50 concurrent requests with one key create exactly one invoice"): [
        ("kaspi.idempotency_duplicate", "results: distinct id among 2xx: expected 1")
    ],
    ("kaspi/idempotency.yaml", "a key is scoped to its merchant"): [
        ("kaspi.idempotency_global_scope", "merchant B, same key and body")
    ],
    ("kaspi/idempotency.yaml", "a refused request stores nothing under its key"): [
        ("kaspi.idempotency_stores_errors", "the corrected request with the same key")
    ],
    # kaspi/refunds.yaml
    ("kaspi/refunds.yaml", "a partial refund, one over the remainder, then the remainder"): [
        ("kaspi.refund_over_remainder", "no amount refunds the remainder")
    ],
    ("kaspi/refunds.yaml", "concurrent partial refunds never sum above the amount"): [
        ("kaspi.refund_over_remainder", "results: number of 201 responses: expected 3")
    ],
    ("kaspi/refunds.yaml", "a paid QR payment is refunded through /v1/refunds"): [
        ("kaspi.refund_over_remainder", 'body error: expected "amount_exceeds_remainder"')
    ],
    ("kaspi/refunds.yaml", "an invoice that is not paid cannot be refunded"): [
        ("kaspi.refund_any_status", "refund a pending invoice")
    ],
    ("kaspi/refunds.yaml", "each refund sends a signed invoice.refunded webhook"): [
        ("kaspi.webhook_unsigned", "signed:"),
        ("kaspi.webhook_bad_signature", "signed:"),
    ],
    # kaspi/webhooks.yaml
    (
        "kaspi/webhooks.yaml",
        "an invoice's lifecycle sends each event once, signed, with its own id",
    ): [
        ("kaspi.webhook_unsigned", "signed:"),
        ("kaspi.webhook_bad_signature", "signed:"),
        ("kaspi.event_id_reused", "unique_ids: event id"),
        ("kaspi.events_out_of_order", "ordered by created_at"),
    ],
    ("kaspi/webhooks.yaml", "a delivery answered 500 is retried after 5 s, then after 30 s"): [
        ("webhooks.no_retry", "attempts: expected 2, got 1"),
        ("webhooks.early_retry", "not retried before 5 s"),
        ("kaspi.webhook_bad_signature", "signed:"),
    ],
    ("kaspi/webhooks.yaml", "a delivery that times out is retried"): [
        ("webhooks.no_retry", "retried once, and delivered")
    ],
    (
        "kaspi/webhooks.yaml",
        "a dead letter is logged, listed as a job, and delivered when retried by hand",
    ): [
        ("webhooks.no_dead_letter", "the log shows the dead letter, newest first"),
        ("webhooks.no_retry", "attempts: expected 2, got 1"),
    ],
    ("kaspi/webhooks.yaml", "the test endpoint sends a signed webhook.test to that endpoint"): [
        ("kaspi.webhook_unsigned", "signed:"),
        ("kaspi.webhook_bad_signature", "signed:"),
    ],
    ("kaspi/webhooks.yaml", "no event is lost while the receiver is down"): [
        ("webhooks.no_retry", "attempts: expected 6, got 3"),
        ("webhooks.duplicate_delivery", "attempts: expected 6, got"),
        ("kaspi.events_out_of_order", "ordered by created_at"),
    ],
    # kaspi/lifecycle.yaml
    ("kaspi/lifecycle.yaml", "an invoice Kaspi refuses to create is answered 502"): [
        ("kaspi.refusal_swallowed", "create")
    ],
    ("kaspi/lifecycle.yaml", "payment actions are written to the audit log"): [
        ("kaspi.audit_silent", "the audit log names the new invoice")
    ],
    ("kaspi/lifecycle.yaml", "only a pending or processing invoice can be canceled"): [
        ("kaspi.cancel_any_status", "cancel again")
    ],
    ("kaspi/lifecycle.yaml", "sandbox simulate reaches every status, on sandbox invoices only"): [
        ("kaspi.simulate_non_sandbox", "simulate is refused on it")
    ],
    (
        "kaspi/lifecycle.yaml",
        "held pending by the sandbox, an invoice outlasts the simulator's default plan",
    ): [
        # at spec the supplement's "still pending a minute on" departs; the seed's cancel fails
        ("kaspi.simulate_pending_ignored", "the held one still can"),
        ("kaspi.cancel_any_status", "the invoice paid on its plan cannot be canceled"),
    ],
    (
        "kaspi/lifecycle.yaml",
        "a daily subscription bills its first period at once and the next one a day later",
    ): [("kaspi.subscription_not_billed", "a day later the second period is billed")],
    ("kaspi/lifecycle.yaml", "invoices are paged and filtered"): [
        ("kaspi.pagination_broken", "the second page")
    ],
    ("kaspi/lifecycle.yaml", "the status check reports known and unknown invoices"): [
        ("kaspi.status_check_unknown_found", "one known id, one unknown")
    ],
    ("kaspi/lifecycle.yaml", "an amount of the wrong type is refused, never coerced"): [
        ("kaspi.amount_coerced", "amount as a string")
    ],
    ("kaspi/lifecycle.yaml", "a merchant without a Kaspi connection cannot create invoices"): [
        ("kaspi.connection_ignored", "status: expected 409, got 201")
    ],
    ("kaspi/lifecycle.yaml", "a merchant cannot see or act on another merchant's invoice"): [
        ("kaspi.isolation_broken", "merchant B cannot read it")
    ],
    ("kaspi/lifecycle.yaml", "requests without a valid key are refused"): [
        ("kaspi.auth_ignored", "no key")
    ],
    ("kaspi/lifecycle.yaml", "over the merchant's rate limit the answer is 429 with Retry-After"): [
        ("kaspi.no_retry_after", "header Retry-After")
    ],
}


def _scenarios() -> dict[tuple[str, str], Scenario]:
    found = {}
    for path in sorted(ROOT.rglob("*.yaml")):
        for sc in load_file(path):
            found[(path.relative_to(ROOT).as_posix(), sc.name)] = sc
    return found


SCENARIOS = _scenarios()


def _id(key: tuple[str, str]) -> str:
    return f"{key[0]}::{key[1]}"


@pytest.fixture
def sim(target: Target) -> Iterator[Target]:
    """The bundled simulator (or a control-API target), with no defect left on afterwards."""
    if not target.control_url:
        if os.environ.get("CI"):  # CI runs the project's tests on the bundled simulator
            pytest.fail("the teeth need the simulator's control API, and CI has it")
        pytest.skip("needs the simulator's control API")
    requests.delete(f"{target.control_url}/defects", timeout=5).raise_for_status()
    yield target
    requests.delete(f"{target.control_url}/defects", timeout=5).raise_for_status()


def _enable(target: Target, defect: str) -> None:
    catalog = requests.get(f"{target.control_url}/defects", timeout=5).json()["catalog"]
    assert defect in catalog, f"{defect} is not in the simulator's defect catalog"
    requests.post(
        f"{target.control_url}/defects", json={"enable": [defect]}, timeout=5
    ).raise_for_status()


def test_every_scenario_is_paired_with_a_defect() -> None:
    unpaired = sorted(_id(k) for k in SCENARIOS if not TEETH.get(k))
    assert not unpaired, f"scenarios with no defect to catch: {unpaired}"
    stale = sorted(_id(k) for k in TEETH if k not in SCENARIOS)
    assert not stale, f"pairings of scenarios that no longer exist: {stale}"


def _caught_by(failure: ScenarioFailure, catcher: str) -> bool:
    """True when the failing step is the one named ``catcher`` or a problem mentions it."""
    return failure.step.get("name") == catcher or any(catcher in p for p in failure.problems)


PAIRS = [(k, defect, catcher) for k in sorted(TEETH) for defect, catcher in TEETH[k]]


@pytest.mark.server
@pytest.mark.parametrize("key", sorted(SCENARIOS), ids=_id)
def test_passes_on_the_clean_simulator(
    key: tuple[str, str], sim: Target, scenario_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    with _as_needed(SCENARIOS[key], sim, tmp_path) as target:
        run_scenario(SCENARIOS[key], target, scenario_receiver)


# A delivery gives up within this many seconds on the simulator's schedule of the real-time
# retry scenarios (attempts 0, 1 and 2 s in, then dead).
FAST_SCHEDULE, GIVES_UP_WITHIN_S = [0, 1, 1], 8


@contextlib.contextmanager
def _as_needed(scenario: Scenario, sim: Target, tmp_path: Path) -> Iterator[Target]:
    """The simulator as the scenario needs it: for one that waits out the retries in real time,
    a fast retry schedule and a profile that bounds it; the documented schedule again after."""
    if "webhook_retries_bounded" not in scenario.requires:
        yield sim
        return
    profile = yaml.safe_load(SIMULATOR_PROFILE.read_text(encoding="utf-8"))
    profile["kaspi"]["webhooks"]["gives_up_within_s"] = GIVES_UP_WITHIN_S
    path = tmp_path / "bounded.profile.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    config = f"{sim.control_url}/webhooks/config"
    documented = requests.get(config, timeout=5).json()["retry_schedule"]
    requests.post(config, json={"retry_schedule": FAST_SCHEDULE}, timeout=5).raise_for_status()
    try:
        yield dataclasses.replace(sim, target_profile=str(path))
    finally:
        requests.post(config, json={"retry_schedule": documented}, timeout=5).raise_for_status()


def _departed_at(departures: list[Departure], catcher: str) -> bool:
    """True when a departure from the supplement was reported at the ``catcher`` step."""
    return any(
        d.step.endswith(f"({catcher})") or any(catcher in p for p in d.problems) for d in departures
    )


@pytest.mark.server
@pytest.mark.parametrize(
    ("key", "defect", "catcher"), PAIRS, ids=[f"{_id(k)}-{d}" for k, d, _ in PAIRS]
)
def test_fails_with_its_defect(
    key: tuple[str, str],
    defect: str,
    catcher: str,
    sim: Target,
    scenario_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    """At level spec the defect fails the scenario where the catcher is seed-backed, and is a
    departure from the supplement reported at that step where the catcher is the supplement's;
    at strict (the same check, counted) both fail."""
    _enable(sim, defect)
    try:
        with _as_needed(SCENARIOS[key], sim, tmp_path) as target:
            departures = run_scenario(SCENARIOS[key], target, scenario_receiver)
    except ScenarioFailure as failure:
        assert _caught_by(failure, catcher), (
            f"{defect} made the scenario fail at {failure.step_label}, not where {catcher!r} "
            f"should catch it: {failure.problems}"
        )
        return
    assert _departed_at(departures, catcher), (
        f"{defect} neither failed the scenario nor departed at {catcher!r}: {departures}"
    )


@pytest.mark.server
def test_a_supplement_catcher_fails_at_strict(
    sim: Target, scenario_receiver: WebhookReceiver
) -> None:
    """What is a departure at level spec is a failure at strict."""
    key = ("kaspi/refunds.yaml", "a partial refund, one over the remainder, then the remainder")
    _enable(sim, "kaspi.refund_over_remainder")
    strict = dataclasses.replace(sim, contract_level="strict")
    with pytest.raises(ScenarioFailure) as info:
        run_scenario(SCENARIOS[key], strict, scenario_receiver)
    assert _caught_by(info.value, "800 of the 700 left"), info.value
