"""A merchant's session exported from the simulator's dashboard as HAR (out of the client log,
which keeps each answer): the example shop's session against the simulator replays on the
independent freefin server with no difference, a bug switched on there is reported at the
exchange it changed, and the scenario made of it passes on the simulator. What the log keeps of
an answer is bounded and masked, and what it does not keep the file says."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from flask import Flask

from harness.replay import session
from harness.replay.runner import Replay
from harness.replay.scenario import from_har
from harness.scenarios.loader import load_text
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import run_scenario
from harness.simproc import SimulatorProcess
from harness.target import make_target
from simulator import har
from simulator.app import create_app
from simulator.grading import client_log
from tests.foreign import run as foreign
from tests.test_proxy import KEY
from tests.test_replay import SECRET, changed_by_create_200, replays_alike

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "shop"))
import client as shop_client  # noqa: E402

FREEFIN_MERCHANT = "6f0c2a4e-1b7d-4c39-9a51-2d8e6b0f3a11"  # KEY's terminal's (simulator/seed.yaml)
KASPI_MERCHANT = "m_almaty_coffee"
KASPI_KEY = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"
OTHER_KEY = "sk_test_vas001_Lm8Np3Qr6St9Uv2W"  # another merchant's terminal


def _export(base: str, api: str, merchant: str) -> requests.Response:
    return requests.get(f"{base}/_sim/ui/{api}/merchant/{merchant}/session.har", timeout=30)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop's session straight against the simulator (client log on): three orders checked
    out and read, the second create's answer lost to a fault after the work was done (the shop
    retries it with its key), an unknown payment read; another merchant's request between."""
    folder = tmp_path_factory.mktemp("export")
    with SimulatorProcess(db_path=str(folder / "sim.db"), extra_args=["--grade-clients"]) as sim:
        shop = shop_client.Shop("freefin", sim.url, KEY, SECRET, backoff_s=0.01)
        for n in range(3):
            if n == 1:
                fault = {"path": "/payments$", "kind": "status", "status": 503, "when": "after"}
                requests.post(sim.url + "/_sim/faults", json={**fault, "count": 1}, timeout=5)
                other = {"Authorization": f"Bearer {OTHER_KEY}"}
                requests.get(sim.url + "/api/v1/public/banks/sbp", headers=other, timeout=5)
            paid = shop.checkout(f"order-{n}", Decimal("66.70"), 3)
            assert shop.status(paid["id"]) == "pending"
        unknown = "/api/v1/public/payments/00000000-0000-4000-8000-000000000000"
        auth = {"Authorization": f"Bearer {KEY}"}
        assert requests.get(sim.url + unknown, headers=auth, timeout=5).status_code == 404
        answer = _export(sim.url, "freefin", FREEFIN_MERCHANT)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="paysim-freefin-{FREEFIN_MERCHANT}.har"'
    )
    out = folder / "shop.har"
    out.write_bytes(answer.content)
    return out


def test_the_export_is_the_merchants_session_in_order_with_timings(exported: Path) -> None:
    entries = session.read(exported)
    assert [e.status for e in entries] == [201, 200, 503, 200, 200, 201, 200, 404]
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert [e.started for e in entries] == sorted(e.started for e in entries)
    assert all(e.seconds > 0 for e in entries)
    assert [e.by_proxy for e in entries] == [False, False, True, False, False, False, False, False]
    assert entries[2].headers["idempotency-key"] == entries[3].headers["idempotency-key"]
    assert KEY not in exported.read_text(encoding="utf-8")
    assert entries[0].answer["payment"]["status"] == "pending"


def test_the_export_replays_on_the_foreign_server_without_a_difference(
    exported: Path, tmp_path: Path
) -> None:
    replays_alike(exported, tmp_path / "clean")


def test_a_bug_on_the_replay_target_is_reported_at_the_exchange_it_changed(
    exported: Path, tmp_path: Path
) -> None:
    changed = changed_by_create_200(exported, tmp_path / "bugged")
    firsts = [e for e in session.read(exported) if e.status == 201]
    assert changed == {f"#{e.seq} POST /api/v1/public/payments" for e in firsts}


def test_a_scenario_made_of_the_export_passes_on_the_simulator(
    exported: Path, tmp_path: Path
) -> None:
    scenario = load_text(from_har(session.read(exported), "exported"), Path("exported.yaml"))[0]
    assert scenario.steps[1]["request"]["path"].endswith("{{ payment_id_1 }}")
    with SimulatorProcess(db_path=str(tmp_path / "sim.db")) as sim, WebhookReceiver() as rcv:
        run_scenario(scenario, make_target({}, bundled_url=sim.url), rcv)


def test_a_kaspi_merchants_export_replays_under_the_targets_base_url(tmp_path: Path) -> None:
    out = tmp_path / "kaspi.har"
    with SimulatorProcess(db_path=str(tmp_path / "k.db"), extra_args=["--grade-clients"]) as sim:
        shop = shop_client.Shop("kaspi", sim.url + "/api", KASPI_KEY)
        for n in range(2):
            shop.status(shop.checkout(f"order-{n}", Decimal("66.70"), 3)["id"])
        out.write_bytes(_export(sim.url, "kaspi", KASPI_MERCHANT).content)
    exchanges = session.read(out)
    assert [(e.method, e.path.count("/")) for e in exchanges] == [("POST", 2), ("GET", 3)] * 2
    for bugs, differing in (((), []), (("create_200",), [0, 2])):
        with foreign.serving("kaspi", bugs) as base:
            replay = Replay(make_target(foreign.settings("kaspi", base)), speed=0)
            outcomes = replay.run(exchanges)
        assert [n for n, o in enumerate(outcomes) if o.differs] == differing, outcomes


# -- what the log keeps of an answer, in-process ---------------------------------------------


@pytest.fixture()
def graded() -> Iterator[Flask]:
    yield create_app({"GRADE_CLIENTS": True, "TICKER": False})


def _entries(app: Flask, api: str, merchant: str) -> list[dict[str, Any]]:
    answer = app.test_client().get(f"/_sim/ui/{api}/merchant/{merchant}/session.har")
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = orjson.loads(answer.data)["log"]["entries"]
    return entries


def test_a_secret_in_an_answer_is_masked_before_it_is_kept(graded: Flask) -> None:
    made = graded.test_client().post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["invoice.paid"]},
        headers={"X-API-Key": KASPI_KEY},
    )
    assert made.status_code == 201, made.text
    secret = made.json["secret"]
    (entry,) = _entries(graded, "kaspi", KASPI_MERCHANT)
    kept = orjson.loads(entry["response"]["content"]["text"])
    assert secret not in entry["response"]["content"]["text"]
    assert kept["secret"].startswith(secret[:8]) and "#" in kept["secret"]


def test_an_answer_past_the_cap_is_cut_and_marked(
    graded: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_log, "ANSWER_KEPT", 64)
    auth = {"Authorization": f"Bearer {KEY}"}
    client = graded.test_client()
    made = client.post("/api/v1/public/payments", json={"amount": 500}, headers=auth)
    assert len(made.data) > 64
    client.get("/api/v1/public/payments/nope-nope", headers=auth)
    long, short = _entries(graded, "freefin", FREEFIN_MERCHANT)
    content = long["response"]["content"]
    assert len(content["text"]) == 64 and content["size"] == len(made.data)
    assert content["_truncated"] is True and "first 64 bytes" in long["comment"]
    assert "_truncated" not in short["response"]["content"] and "comment" not in short


def test_an_event_stream_says_its_events_are_not_kept(graded: Flask) -> None:
    client = graded.test_client()
    stream = client.get(
        "/api/v1/public/events", headers={"Authorization": f"Bearer {KEY}"}, buffered=False
    )
    assert stream.status_code == 200
    stream.close()
    (entry,) = _entries(graded, "freefin", FREEFIN_MERCHANT)
    assert entry["response"]["content"]["mimeType"].startswith("text/event-stream")
    assert "text" not in entry["response"]["content"]
    assert har.STREAM_UNKEPT in entry["comment"]


def test_only_the_merchants_own_credentials_are_exported(graded: Flask) -> None:
    client = graded.test_client()
    for key in (KEY, OTHER_KEY):
        client.get("/api/v1/public/banks/sbp", headers={"Authorization": f"Bearer {key}"})
    (entry,) = _entries(graded, "freefin", FREEFIN_MERCHANT)
    credential = next(h for h in entry["request"]["headers"] if h["name"] == "Authorization")
    assert credential["value"] == "Bearer " + client_log.masked(KEY)
    assert client.get("/_sim/ui/freefin/merchant/nobody/session.har").status_code == 404
    listing = client.get(f"/_sim/ui/freefin/payment?merchant={FREEFIN_MERCHANT}")
    assert f"/_sim/ui/freefin/merchant/{FREEFIN_MERCHANT}/session.har" in listing.text


def test_an_answer_a_fault_made_is_marked_and_a_slow_one_is_the_apis(graded: Flask) -> None:
    client = graded.test_client()
    auth = {"Authorization": f"Bearer {KEY}"}
    for fault in (
        {"path": "/banks/sbp$", "kind": "status", "status": 502, "count": 1},
        {"path": "/banks/sbp$", "kind": "latency", "latency_ms": 50, "count": 1},
    ):
        assert client.post("/_sim/faults", json=fault).status_code in (200, 201)
        client.get("/api/v1/public/banks/sbp", headers=auth)
    faulted, slow = _entries(graded, "freefin", FREEFIN_MERCHANT)
    assert faulted["response"]["status"] == 502 and faulted["_answeredBy"] == "fault"
    assert slow["response"]["status"] == 200 and "_answeredBy" not in slow
    assert slow["time"] >= 50


def test_with_the_client_log_off_there_is_no_session_to_export() -> None:
    app = create_app({"TICKER": False})
    answer = app.test_client().get(f"/_sim/ui/freefin/merchant/{FREEFIN_MERCHANT}/session.har")
    assert answer.status_code == 409 and "--grade-clients" in answer.json["error"]
