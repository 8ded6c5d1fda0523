"""The example shop's API client (examples/shop/client.py), graded by the simulator's client
report over real HTTP, in plain runs against the exam (nothing scripted): the clean shop passes
every rule with every rule exercised, and each of its mistakes is caught by exactly the rule
meant for it, on both APIs; the chaos profiles provoke failures on a simulator without it."""

from __future__ import annotations

import contextlib
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
from paysim.cli import main
from tests.test_proxy import ProxyProcess

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
    "changed_body_retry": "client.same_key_on_retry",
    "ignores_retry_after": "client.honours_retry_after",
    "retry_storm": "client.bounded_backoff",
    "polls_in_loop": "client.no_tight_polling",
    "signature_reserialised": "client.signature_raw_body",
    "amount_float": "client.money",
    "field_typo": "client.field_names",
}
ORDERS = 3  # with a refund each: six creates, enough for every situation of the exam


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shop_client", ROOT / "examples/shop/client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


shop_client = _load()


@pytest.fixture(scope="module")
def examiner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The simulator giving the exam: nothing is scripted by the tests."""
    folder = tmp_path_factory.mktemp("shop")
    with SimulatorProcess(db_path=str(folder / "sim.db"), extra_args=["--exam"]) as proc:
        yield proc.url


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A simulator that grades and gives no exam (chaos and hand-made faults act alone)."""
    folder = tmp_path_factory.mktemp("plain")
    with SimulatorProcess(db_path=str(folder / "sim.db"), extra_args=["--grade-clients"]) as proc:
        yield proc.url


@pytest.fixture
def exam(examiner: str) -> str:
    requests.delete(f"{examiner}/_sim/clients/report", timeout=10).raise_for_status()
    return examiner


@pytest.fixture
def fresh(plain: str) -> Iterator[str]:
    requests.delete(f"{plain}/_sim/clients/report", timeout=10).raise_for_status()
    requests.delete(f"{plain}/_sim/faults", timeout=10).raise_for_status()
    yield plain
    requests.put(f"{plain}/_sim/chaos", json={"profile": "none"}, timeout=10).raise_for_status()


def _shop(
    base: str, api: str, mistakes: frozenset[str] = frozenset(), backoff_s: float = 0.2
) -> Any:
    """The shop's client of ``api`` at ``base`` (the simulator's or a proxy's root)."""
    key, secret = KEYS[api]
    url = base if api == "freefin" else base + "/api"
    return shop_client.Shop(api, url, key, secret, mistakes, backoff_s=backoff_s)


def _fault(sim: str, api: str, **spec: Any) -> None:
    body = {"path": CREATE_PATHS[api], "method": "POST", "count": 1, **spec}
    requests.post(f"{sim}/_sim/faults", json=body, timeout=10).raise_for_status()


def _pay_later(sim: str, api: str, object_id: str, after_s: float) -> threading.Thread:
    """The customer pays ``after_s`` from now: Kaspi's sandbox (a freefin payment succeeds
    by itself two seconds after it is made)."""

    def pay() -> None:
        time.sleep(after_s)
        if api == "kaspi":
            requests.post(
                f"{sim}/api/v1/sandbox/invoices/{object_id}/simulate",
                json={"status": "paid"},
                headers={"X-API-Key": KEYS["kaspi"][0]},
                timeout=10,
            )

    thread = threading.Thread(target=pay, daemon=True)
    thread.start()
    return thread


def a_day_at_the_shop(base: str, api: str, mistakes: set[str], customer: str = "") -> None:
    """Three orders, each paid by its customer and then refunded in part; no fault scripted.
    ``customer``: where the customer pays (the simulator itself, when ``base`` is a proxy)."""
    shop = _shop(base, api, frozenset(mistakes))
    for n in range(ORDERS):
        try:
            created = shop.checkout(f"order-{n}", Decimal("66.70"), 3)
        except shop_client.GaveUp:
            continue  # refused, or given up on: the next order
        payer = _pay_later(customer or base, api, created["id"], 1.0)
        status = shop.wait_until_final(created["id"], 10.0)
        payer.join()
        if status in ("succeeded", "paid"):
            with contextlib.suppress(shop_client.GaveUp):
                shop.refund(created["id"], Decimal("10.00"))


def _client(sim: str, api: str, level: str = "spec") -> dict[str, Any]:
    report = requests.get(f"{sim}/_sim/clients/report?level={level}", timeout=30).json()
    clients = [c for c in report["clients"] if c["api"] == api]
    assert len(clients) == 1, report
    client: dict[str, Any] = clients[0]
    return client


def _clean(base: str, api: str, tmp_path: Path, customer: str = "") -> None:
    a_day_at_the_shop(base, api, set(), customer)
    client = _client(base, api)
    verdicts = {f["rule"]: f["verdict"] for f in client["findings"]}
    assert set(verdicts.values()) == {"passed"}, [
        x
        for x in [(f["rule"], f["verdict"], f.get("detail")) for f in client["findings"]]
        if x[1] != "passed"
    ]
    assert all(client["situations"].values()), client["situations"]
    for level in ("spec", "strict"):
        args = ["client-report", "--target-url", base, "--report-dir", str(tmp_path / level)]
        assert main([*args, "--level", level]) == 0


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_the_clean_shop_passes_the_exam_with_no_finding(
    exam: str, api: str, tmp_path: Path
) -> None:
    _clean(exam, api, tmp_path)


CASES = [
    (api, mistake)
    for api in ("freefin", "kaspi")
    for mistake in RULE_OF
    if not (api == "kaspi" and mistake == "signature_reserialised")  # Kaspi signs no request
]


@pytest.mark.parametrize(("api", "mistake"), CASES)
def test_each_mistake_is_caught_by_its_rule_alone(exam: str, api: str, mistake: str) -> None:
    """A plain run against the exam: the failures it needs come from the exam alone (a field
    name's typo fails at level strict, and is a warning at spec)."""
    a_day_at_the_shop(exam, api, {mistake})
    level = "strict" if mistake == "field_typo" else "spec"
    findings = _client(exam, api, level)["findings"]
    failed = {f["rule"] for f in findings if f["verdict"] == "failed"}
    assert failed == {RULE_OF[mistake]}, findings
    (finding,) = [f for f in findings if f["verdict"] == "failed"]
    assert finding["evidence"] and finding["fix"]
    assert KEYS[api][0] not in str(finding)  # the key is masked
    if mistake == "field_typo":
        spec = {f["rule"]: f for f in _client(exam, api)["findings"]}["client.field_names"]
        assert spec["verdict"] == "passed" and "did you mean" in spec["detail"]


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


@pytest.fixture(scope="module")
def proxies(plain: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A proxy giving the exam before each API of a simulator that gives none."""
    folder = tmp_path_factory.mktemp("proxies")
    with (
        ProxyProcess("freefin", plain, folder, "--exam") as freefin,
        ProxyProcess("kaspi", plain + "/api", folder, "--exam") as kaspi,
    ):
        yield {"freefin": freefin.url, "kaspi": kaspi.url}


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_the_clean_shop_passes_the_exam_through_the_proxy(
    proxies: dict[str, str], plain: str, api: str, tmp_path: Path
) -> None:
    requests.delete(f"{proxies[api]}/_sim/clients/report", timeout=10).raise_for_status()
    _clean(proxies[api], api, tmp_path, customer=plain)


def test_a_client_that_never_creates_is_incomplete_with_what_it_never_met(
    exam: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = _shop(exam, "kaspi")
    for _ in range(2):
        with contextlib.suppress(KeyError):  # 404: no such invoice
            shop.status("inv_does_not_exist")
    client = _client(exam, "kaspi")
    assert client["situations"]["rate_limited"] and not client["situations"]["lost_answer"]
    missing = {m["rule"]: m["to_meet"] for m in client["not_exercised"]}
    assert (
        "client.same_key_on_retry" in missing
        and "send a create" in missing["client.same_key_on_retry"]
    )
    args = ["client-report", "--target-url", exam, "--report-dir", str(tmp_path)]
    assert main(args) == 5
    out = capsys.readouterr().out
    assert "incomplete" in out and "not exercised" in out
    assert "the exam: 1 of 6 situations met (never: lost_answer, dropped," in out
