"""The example shop's API client (examples/shop/client.py), graded by the simulator's client
report over real HTTP: the clean shop passes every rule it is judged on, and each of its
mistakes is caught by exactly the rule meant for it, on both APIs; the chaos profiles provoke
the failures that exercise its retry paths."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    # freefin: a terminal that requires signatures, so that every POST is signed
    "freefin": ("sk_test_rom002_Hs3Kd8Pq1Vx6Yb0C", "ss_rom002_5a9d2e7c1b8f4036"),
    "kaspi": ("kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8", None),
}
OTHER_KEYS = {
    "freefin": ("sk_test_rom001_Jq7Zt2xVw9LmN4pR", "ss_rom001_e8c1b7a2f4d94c6e"),
    "kaspi": ("kp_test_astana_3Mf8Rt1Kw6Py0Dq5", None),
}
CREATE_PATHS = {"freefin": "^/api/v1/public/payments$", "kaspi": "^/api/v1/invoices$"}
RULE_OF = {
    "no_idempotency_key": "client.idempotency_key",
    "new_key_on_retry": "client.same_key_on_retry",
    "ignores_retry_after": "client.honours_retry_after",
    "polls_in_loop": "client.no_tight_polling",
    "signature_reserialised": "client.signature_raw_body",
    "amount_float": "client.money",
}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shop_client", ROOT / "examples/shop/client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


shop_client = _load()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("shop")
    with SimulatorProcess(db_path=str(folder / "sim.db"), extra_args=["--grade-clients"]) as proc:
        yield proc.url


@pytest.fixture
def fresh(sim: str) -> Iterator[str]:
    requests.delete(f"{sim}/_sim/clients/report", timeout=10).raise_for_status()
    requests.delete(f"{sim}/_sim/faults", timeout=10).raise_for_status()
    yield sim
    requests.put(f"{sim}/_sim/chaos", json={"profile": "none"}, timeout=10).raise_for_status()


def _shop(
    sim: str, api: str, mistakes: frozenset[str] = frozenset(), backoff_s: float = 0.05
) -> Any:
    key, secret = KEYS[api]
    base = sim if api == "freefin" else sim + "/api"
    return shop_client.Shop(api, base, key, secret, mistakes, backoff_s=backoff_s)


def _fault(sim: str, api: str, **spec: Any) -> None:
    body = {"path": CREATE_PATHS[api], "method": "POST", "count": 1, **spec}
    requests.post(f"{sim}/_sim/faults", json=body, timeout=10).raise_for_status()


def _pay_later(sim: str, api: str, object_id: str, after_s: float) -> threading.Thread:
    """The customer pays ``after_s`` from now (the control API, or Kaspi's sandbox)."""

    def pay() -> None:
        time.sleep(after_s)
        if api == "freefin":
            body = {"api": "freefin", "object": "payment", "id": object_id, "status": "succeeded"}
            requests.post(f"{sim}/_sim/transition", json=body, timeout=10)
        else:
            requests.post(
                f"{sim}/api/v1/sandbox/invoices/{object_id}/simulate",
                json={"status": "paid"},
                headers={"X-API-Key": KEYS["kaspi"][0]},
                timeout=10,
            )

    thread = threading.Thread(target=pay, daemon=True)
    thread.start()
    return thread


def a_day_at_the_shop(sim: str, api: str, mistakes: set[str]) -> None:
    """One order: the create meets a 429 and then a lost answer (the work done, a 500 sent);
    the shop waits for the payment, which comes a second later, and refunds a part."""
    _fault(sim, api, kind="status", status=429, retry_after=1)
    _fault(sim, api, kind="status", status=500, when="after")
    shop = _shop(sim, api, frozenset(mistakes))
    try:
        created = shop.checkout("order-1042", Decimal("66.70"), 3)
    except shop_client.GaveUp:
        return  # refused: what the shop sent was wrong
    payer = _pay_later(sim, api, created["id"], 1.0)
    status = shop.wait_until_final(created["id"], 10.0)
    payer.join()
    assert status in ("succeeded", "paid"), status
    shop.refund(created["id"], Decimal("10.00"))


def _findings(sim: str, api: str) -> list[dict[str, Any]]:
    report = requests.get(f"{sim}/_sim/clients/report", timeout=10).json()
    clients = [c for c in report["clients"] if c["api"] == api]
    assert len(clients) == 1, report
    findings: list[dict[str, Any]] = clients[0]["findings"]
    return findings


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_the_clean_shop_passes_every_rule_it_is_judged_on(fresh: str, api: str) -> None:
    a_day_at_the_shop(fresh, api, set())
    verdicts = {f["rule"]: f["verdict"] for f in _findings(fresh, api)}
    assert "failed" not in verdicts.values(), verdicts
    judged = {
        "client.idempotency_key",
        "client.same_key_on_retry",
        "client.honours_retry_after",
        "client.bounded_backoff",
        "client.no_tight_polling",
        "client.request_conformance",
        "client.money",
    }
    if api == "freefin":
        judged.add("client.signature_raw_body")
    assert {rule for rule, v in verdicts.items() if v == "passed"} == judged, verdicts


CASES = [
    (api, mistake)
    for api in ("freefin", "kaspi")
    for mistake in RULE_OF
    if not (api == "kaspi" and mistake == "signature_reserialised")  # Kaspi signs no request
]


@pytest.mark.parametrize(("api", "mistake"), CASES)
def test_each_mistake_is_caught_by_its_rule_alone(fresh: str, api: str, mistake: str) -> None:
    a_day_at_the_shop(fresh, api, {mistake})
    findings = _findings(fresh, api)
    failed = {f["rule"] for f in findings if f["verdict"] == "failed"}
    assert failed == {RULE_OF[mistake]}, findings
    (finding,) = [f for f in findings if f["verdict"] == "failed"]
    assert finding["evidence"] and finding["fix"]
    assert KEYS[api][0] not in str(finding)  # the key is masked


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_the_hostile_profile_exercises_retries_and_the_grade_tells_the_shops_apart(
    fresh: str, api: str
) -> None:
    """A clean shop and one that changes its key on retry, side by side (two credentials)."""
    resp = requests.put(f"{fresh}/_sim/chaos", json={"profile": "hostile"}, timeout=10)
    assert resp.json()["profile"] == "hostile"
    clean = _shop(fresh, api, backoff_s=0.2)
    careless = _shop(fresh, api, frozenset({"new_key_on_retry"}), 0.2)
    careless.key, careless.secret = OTHER_KEYS[api]
    counts: dict[str, dict[str, int]] = {}
    runs = [
        threading.Thread(target=lambda s=s, n=n: counts.__setitem__(n, shop_client.run(s, 20)))
        for n, s in (("clean", clean), ("careless", careless))
    ]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert counts["clean"]["created"] > 0
    report = requests.get(f"{fresh}/_sim/clients/report", timeout=10).json()
    (good,) = [c for c in report["clients"] if c["client"][-4:] == clean.key[-4:]]
    (bad,) = [c for c in report["clients"] if c["client"][-4:] == careless.key[-4:]]
    assert good["requests"] > 20  # faults were met and retried
    verdicts = {f["rule"]: f["verdict"] for f in good["findings"]}
    assert "failed" not in verdicts.values(), verdicts
    assert verdicts["client.same_key_on_retry"] == "passed"  # lost answers were retried
    failed = {f["rule"] for f in bad["findings"] if f["verdict"] == "failed"}
    assert failed == {"client.same_key_on_retry"}, [
        (f["rule"], f["detail"]) for f in bad["findings"]
    ]


def test_chaos_is_kept_across_a_reset_and_refuses_an_unknown_profile(fresh: str) -> None:
    requests.put(f"{fresh}/_sim/chaos", json={"profile": "flaky"}, timeout=10).raise_for_status()
    requests.post(f"{fresh}/_sim/reset", timeout=10).raise_for_status()
    chaos = requests.get(f"{fresh}/_sim/chaos", timeout=10).json()
    assert chaos["profile"] == "flaky"
    assert {f["when"] for f in chaos["faults"]} == {"before", "after"}
    bad = requests.put(f"{fresh}/_sim/chaos", json={"profile": "chaotic"}, timeout=10)
    assert bad.status_code == 400 and "error" in bad.json()


def test_serve_takes_a_chaos_profile(tmp_path: Path) -> None:
    with SimulatorProcess(db_path=str(tmp_path / "sim.db"), extra_args=["--chaos", "hostile"]) as p:
        chaos = requests.get(f"{p.url}/_sim/chaos", timeout=10).json()
    assert chaos["profile"] == "hostile" and chaos["faults"]


def test_a_lost_answer_still_did_the_work(fresh: str) -> None:
    """The 'after' fault: the object is created, the answer is a 500; the retry with the same
    key gets the object (the replay), not a second one."""
    requests.post(f"{fresh}/_sim/reset", timeout=10).raise_for_status()
    _fault(fresh, "kaspi", kind="status", status=500, when="after")
    key, _ = KEYS["kaspi"]
    headers = {"X-API-Key": key, "Idempotency-Key": "lost-answer-1"}
    body = {"amount": 100.0, "phone_number": "77011234567", "is_sandbox": True}
    url = f"{fresh}/api/v1/invoices"
    assert requests.post(url, json=body, headers=headers, timeout=10).status_code == 500
    again = requests.post(url, json=body, headers=headers, timeout=10)
    assert again.status_code in (200, 201), again.text
    listed = requests.get(url, headers={"X-API-Key": key}, timeout=10).json()
    assert [i["id"] for i in listed["items"]].count(again.json()["id"]) == 1
    assert len(listed["items"]) == 1
