"""paysim replay: a session of the example shop recorded against the simulator (paysim proxy
--record) sent again to the independent freefin server: no difference when it is clean; the
exchanges a switched-on bug changes reported; a recorded retry still a retry; ids, keys and
signatures re-made."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from harness import signing
from harness.profile import ApiProfile
from harness.replay import session
from harness.replay.diff import Answer, differences
from harness.replay.mapping import Credentials, Ids, Keys
from harness.replay.runner import Outcome, Replay
from harness.replay.scenario import from_har
from harness.scenarios import provenance
from harness.scenarios.http import CREDENTIALS
from harness.scenarios.loader import Scenario, load_file, load_text
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import run_scenario
from harness.scenarios.state import ScenarioFailure
from harness.simproc import SimulatorProcess
from harness.target import bundled_credentials, make_target
from tests.foreign import run as foreign
from tests.test_proxy import KEY, ProxyProcess

ROOT = Path(__file__).resolve().parent.parent
SECRET = "ss_rom001_e8c1b7a2f4d94c6e"  # the bundled seed's secret of KEY's terminal
sys.path.insert(0, str(ROOT / "examples" / "shop"))
import client as shop_client  # noqa: E402


@pytest.fixture(scope="module")
def har(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop's session: three orders checked out and read, the second create's answer lost
    after the work was done (the shop retries it with its key), an unknown payment read."""
    folder = tmp_path_factory.mktemp("replay")
    recorded = folder / "shop.har"
    with (
        SimulatorProcess(db_path=str(folder / "sim.db")) as sim,
        ProxyProcess("freefin", sim.url, folder, "--record", str(recorded)) as proxy,
    ):
        shop = shop_client.Shop("freefin", proxy.url, KEY, SECRET, backoff_s=0.01)
        for n in range(3):
            if n == 1:
                fault = {"path": "/payments$", "kind": "status", "status": 503, "when": "after"}
                requests.post(proxy.url + "/_sim/faults", json={**fault, "count": 1}, timeout=5)
            paid = shop.checkout(f"order-{n}", Decimal("66.70"), 3)
            assert shop.status(paid["id"]) == "pending"
        assert (
            shop.http.get(
                proxy.url + "/api/v1/public/payments/00000000-0000-4000-8000-000000000000",
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=5,
            ).status_code
            == 404
        )
    return recorded


def _replay(har: Path, base: str, report: Path) -> tuple[int, str, dict[str, Any]]:
    creds = report.parent / f"{report.name}.yaml"
    creds.write_text(yaml.safe_dump(foreign.settings("freefin", base)), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "paysim",
            "replay",
            str(har),
            "--credentials-file",
            str(creds),
            "--speed",
            "0",
            "--report-dir",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = json.loads((report / "summary.json").read_text()) if done.returncode < 2 else {}
    return done.returncode, done.stdout + done.stderr, summary


def replays_alike(har: Path, report: Path) -> None:
    """The eight exchanges of ``har`` replay on the clean foreign server with no difference."""
    with foreign.serving("freefin") as base:
        code, output, summary = _replay(har, base, report)
    assert code == 0, output
    assert "8 exchanges" in output and "0 differ" in output
    assert summary["failures"] == []


def changed_by_create_200(har: Path, report: Path) -> set[str]:
    """The exchanges the foreign server's create_200 bug changes (two of eight, failing)."""
    with foreign.serving("freefin", ["create_200"]) as base:
        code, output, summary = _replay(har, base, report)
    assert code == 1, output
    assert "2 of 8 exchanges differ" in output and len(summary["failures"]) == 2
    return {line.split(":")[0] for line in output.splitlines() if "status 201, now 200" in line}


def test_the_shop_session_replays_on_the_foreign_server_without_a_difference(
    har: Path, tmp_path: Path
) -> None:
    entries = session.read(har)
    assert [e.status for e in entries] == [201, 200, 503, 200, 200, 201, 200, 404]
    replays_alike(har, tmp_path / "clean")
    for name in ("junit.xml", "summary.json", "report.html"):
        assert (tmp_path / "clean" / name).exists()
    assert "sk_test_fbk001" not in (tmp_path / "clean" / "report.html").read_text()


def test_a_bug_of_the_server_is_reported_at_the_exchange_it_changed(
    har: Path, tmp_path: Path
) -> None:
    changed = changed_by_create_200(har, tmp_path / "bugged")
    assert changed == {"#1 POST /api/v1/public/payments", "#6 POST /api/v1/public/payments"}


def test_a_recorded_retry_is_still_a_retry(har: Path) -> None:
    entries = session.read(har)
    first, retry = entries[2], entries[3]
    assert first.headers["idempotency-key"] == retry.headers["idempotency-key"]
    for bugs, same in (((), True), (("replay_duplicates",), False)):
        with foreign.serving("freefin", bugs) as base:
            replay = Replay(make_target(foreign.settings("freefin", base)), speed=0)
            outcomes = replay.run(entries)
        made = [o.body["payment"]["id"] for o in outcomes[2:4]]
        assert (made[0] == made[1]) is same, made
        assert bool(outcomes[3].differences) is not same  # a second object: 201, not 200


def test_ids_keys_and_signatures_are_made_again(har: Path) -> None:
    entries = session.read(har)
    target = make_target(
        {
            "target_url": "http://127.0.0.1:1",
            "freefin_key": "k_target_0001_abcdef",
            "freefin_signing_secret": "target-secret",
        }
    )
    replay = Replay(target, speed=0)
    recorded_id = entries[1].path.rsplit("/", 1)[1]
    replay.ids.add(recorded_id, "new-payment-id")
    url, headers, body = replay._request(entries[1])
    assert url == "http://127.0.0.1:1/api/v1/public/payments/new-payment-id"
    assert headers["authorization"] == "Bearer k_target_0001_abcdef"
    _url, headers, body = replay._request(entries[0])
    assert headers["x-freefin-signature"] == signing.sign(body or b"", "target-secret")
    assert headers["idempotency-key"] != entries[0].headers["idempotency-key"]


def test_ids_are_learnt_from_parallel_answers_and_applied_everywhere() -> None:
    ids = Ids()
    ids.learn(
        {"payment": {"id": "pay-old-1", "status": "pending", "refunds": [{"payment_id": "x"}]}},
        {"payment": {"id": "pay-new-1", "status": "pending", "refunds": [{"payment_id": "y"}]}},
    )
    assert ids.known == {"pay-old-1": "pay-new-1"}  # a value shorter than an id is left alone
    assert ids.apply('/p/pay-old-1?ref=pay-old-1 {"id":"pay-old-1"}') == (
        '/p/pay-new-1?ref=pay-new-1 {"id":"pay-new-1"}'
    )
    keys = Keys()
    assert keys("a") == keys("a") != keys("b")


def test_a_file_that_is_not_a_session_is_bad_configuration(tmp_path: Path) -> None:
    bad = tmp_path / "bad.har"
    bad.write_text("{}", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "paysim", "replay", str(bad), "--target-url", "http://127.0.0.1:1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert "not a HAR file" in done.stderr


def test_a_target_that_answers_nothing_is_unreachable(har: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "paysim",
            "replay",
            str(har),
            "--target-url",
            "http://127.0.0.1:1",
            "--freefin-key",
            "k",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stdout + done.stderr


def _scenario(har: Path) -> Scenario:
    text = from_har(session.read(har), "the shop's session")
    return load_text(text, Path("shop.yaml"))[0]


def test_a_generated_scenario_names_its_sources_and_keeps_the_retry(har: Path) -> None:
    scenario = _scenario(har)
    steps = scenario.steps
    assert len(steps) == 8
    retried = [s["request"]["headers"]["Idempotency-Key"] for s in steps[2:4]]
    assert retried[0] == retried[1]
    assert "expect" not in steps[2]  # the recording proxy's own 503
    assert steps[3]["expect"][0] == {
        "from": "seed: POST /api/v1/public/payments 200",
        "status": 200,
    }
    assert steps[1]["request"]["path"] == "/api/v1/public/payments/{{ payment_id_1 }}"
    assert steps[0]["save"] == {
        "from": "seed: POST /api/v1/public/payments 201",
        "payment_id_1": "payment.id",
    }
    assert {
        "from": "supplement#/error_codes/not_found",
        "body": {"error.code": "{{ $code.not_found }}"},
    } in steps[7]["expect"]


def test_a_generated_scenario_passes_on_the_simulator_and_fails_on_the_bugged_server(
    har: Path, tmp_path: Path
) -> None:
    scenario = _scenario(har)
    with SimulatorProcess(db_path=str(tmp_path / "sim.db")) as sim, WebhookReceiver() as rcv:
        run_scenario(scenario, make_target({}, bundled_url=sim.url), rcv)
    with foreign.serving("freefin") as base, WebhookReceiver() as rcv:
        run_scenario(scenario, make_target(foreign.settings("freefin", base)), rcv)
    bugged = pytest.raises(ScenarioFailure, match="expected 201, got 200")
    with foreign.serving("freefin", ["create_200"]) as base, WebhookReceiver() as rcv, bugged:
        run_scenario(scenario, make_target(foreign.settings("freefin", base)), rcv)


def test_from_har_writes_the_file_the_loader_accepts(har: Path, tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "paysim", "scenario", "from-har", str(har), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [s.name for s in load_file(out)] == ["recorded session shop"]


def test_a_replayed_event_stream_must_say_what_the_recorded_one_said(tmp_path: Path) -> None:
    recorded = tmp_path / "stream.har"
    auth = {"Authorization": f"Bearer {KEY}"}
    sim_args = ["--sse-heartbeat", "0.3"]
    with (
        SimulatorProcess(db_path=str(tmp_path / "a.db"), extra_args=sim_args) as sim,
        ProxyProcess("freefin", sim.url, tmp_path, "--record", str(recorded)) as proxy,
    ):
        paid = requests.post(
            proxy.url + "/api/v1/public/payments",
            json={"amount": 500},
            headers={**auth, "Idempotency-Key": "stream-1"},
            timeout=5,
        ).json()["payment"]["id"]
        with requests.get(
            proxy.url + "/api/v1/public/events", headers=auth, stream=True, timeout=10
        ) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if line.startswith("data:") and paid in line and "succeeded" in line:
                    break
        deadline = time.monotonic() + 15
        while len(session.read(recorded)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    exchanges = session.read(recorded)
    assert exchanges[1].stream and exchanges[1].events
    with SimulatorProcess(db_path=str(tmp_path / "b.db")) as other:
        replay = Replay(make_target({}, bundled_url=other.url), speed=0, stream_wait_s=8)
        outcomes = replay.run(exchanges)
    assert [o.differences for o in outcomes] == [[], []]
    with foreign.serving("freefin") as base:  # its payments stay pending unless planned
        replay = Replay(make_target(foreign.settings("freefin", base)), speed=0, stream_wait_s=2)
        outcomes = replay.run(exchanges)
    assert outcomes[0].differences == []
    assert any("succeeded: not sent" in d for d in outcomes[1].differences), outcomes[1]


def test_a_kaspi_session_replays_under_the_targets_base_url(tmp_path: Path) -> None:
    recorded = tmp_path / "kaspi.har"
    key = bundled_credentials()["kaspi_key"]
    with (
        SimulatorProcess(db_path=str(tmp_path / "k.db")) as sim,
        ProxyProcess("kaspi", sim.url + "/api", tmp_path, "--record", str(recorded)) as proxy,
    ):
        shop = shop_client.Shop("kaspi", proxy.url + "/api", key)
        for n in range(2):
            shop.status(shop.checkout(f"order-{n}", Decimal("66.70"), 3)["id"])
    exchanges = session.read(recorded)
    assert [(e.method, e.path.count("/")) for e in exchanges] == [("POST", 2), ("GET", 3)] * 2
    for bugs, differing in (((), []), (("create_200",), [0, 2])):
        with foreign.serving("kaspi", bugs) as base:
            replay = Replay(make_target(foreign.settings("kaspi", base)), speed=0)
            outcomes = replay.run(exchanges)
        assert [n for n, o in enumerate(outcomes) if o.differs] == differing, outcomes


def test_answers_are_compared_through_each_sides_profile() -> None:
    ids = Ids()
    ids.add("inv_recorded_1", "inv_replayed_1")
    theirs = ApiProfile(codes={"not_found": "invoice_missing"}, lists={"items": "data"})
    ours = ApiProfile(lists={"items": "items", "total": "pagination.total"})
    missing = Answer(404, {"error": "not_found"}), Answer(404, {"error": "invoice_missing"})
    assert differences("kaspi", *missing, ids, ours, theirs) == []
    assert differences("kaspi", *missing, ids, ours, ApiProfile()) == [
        "error code not_found, now invoice_missing"
    ]
    listed = Answer(200, {"items": [{"id": "inv_recorded_1", "status": "pending"}]})
    same = Answer(200, {"data": [{"id": "inv_replayed_1", "status": "pending"}]})
    moved = Answer(200, {"data": [{"id": "inv_replayed_1", "status": "paid"}]})
    assert differences("kaspi", listed, same, ids, ours, theirs) == []
    assert differences("kaspi", listed, moved, ids, ours, theirs) == [
        "items.0.status: 'pending', now 'paid'"
    ]
    optional = Answer(201, {"payment": {"amount": 100, "amount_usdt": 1.5}})
    assert (
        differences("freefin", optional, Answer(201, {"payment": {"amount": 100}}), ids, ours, ours)
        == []
    )
    assert (
        differences(
            "freefin", optional, Answer(201, {"payment": {"amount": "100.00"}}), ids, ours, ours
        )
        == []
    )
    assert differences(
        "freefin", optional, Answer(201, {"payment": {"amount": 101}}), ids, ours, ours
    ) == ["payment.amount: 100, now 101"]


class _Paced(Replay):
    """A replay that sends nothing: what it waits is what is judged."""

    def one(self, rec: session.Recorded) -> Outcome:
        return Outcome(rec, rec.status, 0.0, [])


@pytest.mark.parametrize(("speed", "waits"), [(1, [1.0, 3.0]), (4, [0.25, 0.75]), (0, [])])
def test_recorded_waits_are_kept_or_compressed(har: Path, speed: float, waits: list[float]) -> None:
    exchanges = session.read(har)[:3]
    for n, rec in enumerate(exchanges):
        rec.started = 1000.0 + [0, 1, 3][n]
    slept: list[float] = []  # a sleep that takes no time: each wait is due from the start
    target = make_target({"target_url": "http://127.0.0.1:1"})
    _Paced(target, speed=speed, sleep=slept.append).run(exchanges)
    assert slept == pytest.approx(waits, abs=0.05)


def test_the_seed_answers_a_scenario_names_are_asked_of_provenance() -> None:
    assert (
        provenance.seed_template("freefin", "GET", "/api/v1/public/payments/{{ payment_id_1 }}")
        == "/api/v1/public/payments/{id}"
    )
    assert provenance.seed_template("freefin", "DELETE", "/api/v1/public/payments/p1") is None
    fields = provenance.answer_fields("freefin", "seed: POST /api/v1/public/payments 201")
    assert fields is not None and "payment" in fields
    with pytest.raises(KeyError):
        provenance.answer_fields("freefin", "seed: POST /api/v1/public/payments 299")


def test_a_masked_credential_of_the_bundled_simulator_keeps_its_role() -> None:
    from simulator.grading.client_log import masked

    bundled = bundled_credentials()
    for api in ("freefin", "kaspi"):
        roles = Credentials(make_target({"target_url": "http://127.0.0.1:1"}))
        for role, (field, _secret) in reversed(CREDENTIALS[api].items()):
            scheme = "Bearer " if api == "freefin" else ""
            assert roles.role(api, scheme + masked(bundled[field])) == role
