"""Every scenario has teeth: it passes on the clean simulator and fails with the defect it exists
to catch switched on (``POST /_sim/defects``).

``TEETH`` pairs each scenario with the catalog's defects it must catch. ``WANTED`` lists the
pairings whose defect the simulator's catalog does not have yet: name and behaviour, so it is
easy to complete; those tests skip with that text until the defect exists, then run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.scenarios.loader import Scenario, load_file
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import ScenarioFailure, run_scenario
from harness.target import Target

ROOT = Path(__file__).resolve().parent.parent / "scenarios"

TEETH: dict[tuple[str, str], list[str]] = {
    # freefin/idempotency.yaml
    ("freefin/idempotency.yaml", "a replay returns 200 and the same payment"):
        ["freefin.idempotency_duplicate"],
    ("freefin/idempotency.yaml", "the same key with another body is a 409 conflict"):
        ["freefin.idempotency_duplicate"],
    ("freefin/idempotency.yaml", "50 concurrent requests with one key create exactly one payment"):
        ["freefin.idempotency_duplicate"],
    ("freefin/idempotency.yaml", "a refused request stores nothing under its key"):
        ["freefin.idempotency_stores_errors", "freefin.idempotency_duplicate"],
    ("freefin/idempotency.yaml", "a key is scoped to its terminal and merchant"):
        ["freefin.idempotency_global_scope"],
    ("freefin/idempotency.yaml", "a key of 64 characters is accepted and one of 65 is refused"):
        ["freefin.idempotency_key_unbounded"],
    # freefin/refunds.yaml
    ("freefin/refunds.yaml", "a partial refund, one over the remainder, then the remainder"):
        ["freefin.refund_over_remainder"],
    ("freefin/refunds.yaml", "an amount of 0 refunds the whole payment"):
        ["freefin.refund_zero_amount"],
    ("freefin/refunds.yaml", "a payment that has not succeeded cannot be refunded"):
        ["freefin.refund_any_status"],
    ("freefin/refunds.yaml", "concurrent partial refunds never sum above the amount"):
        ["freefin.refund_over_remainder"],
    ("freefin/refunds.yaml", "each refund sends a signed payment.refunded webhook and event"):
        ["freefin.webhook_unsigned", "freefin.webhook_bad_signature"],
    # freefin/signatures.yaml
    **{("freefin/signatures.yaml", name): ["freefin.signature_not_checked"] for name in (
        "a signed terminal refuses a request without a signature",
        "a signature made with another secret is invalid",
        "a tampered body is invalid",
        "a signature over re-serialized JSON is invalid",
        "a signature with another prefix is invalid",
        "a signature in upper-case hex is invalid",
        "a signature of a body that was not sent is invalid",
    )},
    ("freefin/signatures.yaml", "the exact signature of the raw body passes"):
        ["freefin.signature_over_parsed_json"],
    # freefin/webhooks.yaml
    ("freefin/webhooks.yaml", "a lifecycle sends each event once, signed, with its own id"):
        ["freefin.webhook_unsigned", "freefin.webhook_bad_signature"],
    ("freefin/webhooks.yaml", "a delivery answered 500 is retried after 5 s, then after 30 s"):
        ["webhooks.no_retry", "freefin.webhook_bad_signature"],
    ("freefin/webhooks.yaml", "a delivery that times out is retried"): ["webhooks.no_retry"],
    ("freefin/webhooks.yaml", "after the last attempt a delivery is dead-lettered"):
        ["webhooks.no_dead_letter", "webhooks.no_retry"],
    ("freefin/webhooks.yaml", "the delivery log shows the dead letter"):
        ["webhooks.no_dead_letter", "webhooks.no_retry"],
    ("freefin/webhooks.yaml", "no event is lost while the receiver is down"):
        ["webhooks.no_retry"],
    # freefin/lifecycle.yaml
    ("freefin/lifecycle.yaml", "only a pending payment can be cancelled"):
        ["freefin.cancel_any_status"],
    ("freefin/lifecycle.yaml", "a pending payment expires at expires_at on the clock"):
        ["freefin.expiry_ignored", "freefin.events_out_of_order"],
    ("freefin/lifecycle.yaml",
     "the SSE stream carries a lifecycle in order, with ids, and resumes after an id"):
        ["freefin.events_out_of_order", "freefin.sse_no_resume"],
    ("freefin/lifecycle.yaml", "a merchant cannot see or act on another merchant's payment"):
        ["freefin.isolation_broken"],
    ("freefin/lifecycle.yaml", "payouts go to a bank of the SBP directory"):
        ["freefin.payout_any_bank"],
    ("freefin/lifecycle.yaml", "requests without a valid key are refused"):
        ["freefin.auth_ignored"],
    ("freefin/lifecycle.yaml", "over the merchant's rate limit the answer is 429 with Retry-After"):
        ["freefin.no_retry_after"],
    # kaspi/idempotency.yaml
    ("kaspi/idempotency.yaml", "a replay answers the first response again"):
        ["kaspi.idempotency_duplicate"],
    ("kaspi/idempotency.yaml", "the same key with another body is a 409 conflict"):
        ["kaspi.idempotency_duplicate"],
    ("kaspi/idempotency.yaml", "50 concurrent requests with one key create exactly one invoice"):
        ["kaspi.idempotency_duplicate"],
    # kaspi/refunds.yaml
    ("kaspi/refunds.yaml", "a partial refund, one over the remainder, then the remainder"):
        ["kaspi.refund_over_remainder"],
    ("kaspi/refunds.yaml", "concurrent partial refunds never sum above the amount"):
        ["kaspi.refund_over_remainder"],
    ("kaspi/refunds.yaml", "a paid QR payment is refunded through /v1/refunds"):
        ["kaspi.refund_over_remainder"],
    ("kaspi/refunds.yaml", "each refund sends a signed invoice.refunded webhook"):
        ["kaspi.webhook_unsigned", "kaspi.webhook_bad_signature"],
    # kaspi/webhooks.yaml
    ("kaspi/webhooks.yaml",
     "an invoice's lifecycle sends each event once, signed, with its own id"):
        ["kaspi.webhook_unsigned", "kaspi.webhook_bad_signature"],
    ("kaspi/webhooks.yaml", "a delivery answered 500 is retried after 5 s, then after 30 s"):
        ["webhooks.no_retry", "kaspi.webhook_bad_signature"],
    ("kaspi/webhooks.yaml",
     "a dead letter is logged, listed as a job, and delivered when retried by hand"):
        ["webhooks.no_dead_letter", "webhooks.no_retry"],
    ("kaspi/webhooks.yaml", "the test endpoint sends a signed webhook.test to that endpoint"):
        ["kaspi.webhook_unsigned", "kaspi.webhook_bad_signature"],
    ("kaspi/webhooks.yaml", "no event is lost while the receiver is down"):
        ["webhooks.no_retry"],
    # kaspi/lifecycle.yaml
    ("kaspi/lifecycle.yaml", "only a pending or processing invoice can be canceled"):
        ["kaspi.cancel_any_status"],
    ("kaspi/lifecycle.yaml", "sandbox simulate reaches every status, on sandbox invoices only"):
        ["kaspi.simulate_non_sandbox"],
    ("kaspi/lifecycle.yaml",
     "a daily subscription bills its first period at once and the next one a day later"):
        ["kaspi.amount_format"],
    ("kaspi/lifecycle.yaml", "a merchant cannot see or act on another merchant's invoice"):
        ["kaspi.isolation_broken"],
    ("kaspi/lifecycle.yaml", "requests without a valid key are refused"):
        ["kaspi.auth_ignored"],
    ("kaspi/lifecycle.yaml", "over the merchant's rate limit the answer is 429 with Retry-After"):
        ["kaspi.no_retry_after"],
}

# Pairings waiting for a defect the catalog lacks: (file, scenario) -> (defect, behaviour).
# (The freefin ones listed here before have all been added to the catalog.)
WANTED: dict[tuple[str, str], tuple[str, str]] = {
    ("kaspi/idempotency.yaml", "a key is scoped to its merchant"): (
        "kaspi.idempotency_global_scope",
        "Idempotency-Key is looked up across merchants, so merchant B reusing merchant A's "
        "key gets A's invoice instead of its own"),
    ("kaspi/idempotency.yaml", "a refused request stores nothing under its key"): (
        "kaspi.idempotency_stores_errors",
        "a 4xx answer is stored under its Idempotency-Key, so the corrected retry with the "
        "same key gets 409 idempotency_conflict (or the old 400) instead of 201"),
    ("kaspi/refunds.yaml", "an invoice that is not paid cannot be refunded"): (
        "kaspi.refund_any_status",
        "a pending or canceled invoice can be refunded (201) instead of 409 not_paid"),
    ("kaspi/lifecycle.yaml",
     "a daily subscription bills its first period at once and the next one a day later"): (
        "kaspi.subscription_not_billed",
        "subscriptions bill their first period only; later periods are never billed when "
        "the clock passes next_billing_at"),
    ("kaspi/lifecycle.yaml", "invoices are paged and filtered"): (
        "kaspi.pagination_broken",
        "GET /v1/invoices ignores page and status (always the first page, every status), "
        "while pagination still reports the requested page"),
    ("kaspi/lifecycle.yaml", "the status check reports known and unknown invoices"): (
        "kaspi.status_check_unknown_found",
        "POST /v1/invoices/status/check reports unknown ids as found and leaves not_found "
        "empty"),
    ("kaspi/lifecycle.yaml", "a merchant without a Kaspi connection cannot create invoices"): (
        "kaspi.connection_ignored",
        "a merchant whose Kaspi session is not connected can create invoices (201) instead "
        "of 409 kaspi_not_connected"),
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
        pytest.skip("needs the simulator's control API")
    requests.delete(f"{target.control_url}/defects", timeout=5).raise_for_status()
    yield target
    requests.delete(f"{target.control_url}/defects", timeout=5).raise_for_status()


def _enable(target: Target, defect: str) -> None:
    catalog = requests.get(f"{target.control_url}/defects", timeout=5).json()["catalog"]
    assert defect in catalog, f"{defect} is not in the simulator's defect catalog"
    requests.post(f"{target.control_url}/defects", json={"enable": [defect]},
                  timeout=5).raise_for_status()


def test_every_scenario_is_paired_with_a_defect() -> None:
    unpaired = sorted(_id(k) for k in SCENARIOS if k not in TEETH and k not in WANTED)
    assert not unpaired, f"scenarios with no defect to catch: {unpaired}"
    stale = sorted(_id(k) for k in {**TEETH, **WANTED} if k not in SCENARIOS)
    assert not stale, f"pairings of scenarios that no longer exist: {stale}"


@pytest.mark.server
@pytest.mark.parametrize("key", sorted(SCENARIOS), ids=_id)
def test_passes_on_the_clean_simulator(key: tuple[str, str], sim: Target,
                                       scenario_receiver: WebhookReceiver) -> None:
    run_scenario(SCENARIOS[key], sim, scenario_receiver)


@pytest.mark.server
@pytest.mark.parametrize(("key", "defect"),
                         [(k, d) for k in sorted(TEETH) for d in TEETH[k]],
                         ids=[f"{_id(k)}-{d}" for k in sorted(TEETH) for d in TEETH[k]])
def test_fails_with_its_defect(key: tuple[str, str], defect: str, sim: Target,
                               scenario_receiver: WebhookReceiver) -> None:
    _enable(sim, defect)
    with pytest.raises(ScenarioFailure):
        run_scenario(SCENARIOS[key], sim, scenario_receiver)


@pytest.mark.server
@pytest.mark.parametrize("key", sorted(WANTED), ids=_id)
def test_fails_with_a_wanted_defect(key: tuple[str, str], sim: Target,
                                    scenario_receiver: WebhookReceiver) -> None:
    defect, behaviour = WANTED[key]
    catalog = requests.get(f"{sim.control_url}/defects", timeout=5).json()["catalog"]
    if defect not in catalog:
        pytest.skip(f"the simulator has no defect {defect} yet ({behaviour})")
    _enable(sim, defect)
    with pytest.raises(ScenarioFailure):
        run_scenario(SCENARIOS[key], sim, scenario_receiver)
