"""The /_sim control API: reset, clock, outcomes, transitions, faults, defects, scripts."""

from __future__ import annotations

import time

from flask import Flask

from simulator.app import create_app
from simulator.core.runtime import Runtime
from tests.conftest import FF, SpecClient, create_payment


def test_reset_wipes_objects_and_clock(api: SpecClient, rt: Runtime) -> None:
    payment = create_payment(api)
    api.post("/_sim/clock/advance", json={"seconds": 100})
    assert api.client.get("/_sim/clock").json["offset_s"] == 100
    assert api.client.post("/_sim/reset").status_code == 200
    assert api.get(f"{FF}/payments/{payment['id']}").status_code == 404
    assert api.client.get("/_sim/clock").json["offset_s"] == 0


def test_clock_rejects_bad_input(api: SpecClient) -> None:
    for body in ({"seconds": -1}, {"seconds": "5"}, {}, {"seconds": True}):
        resp = api.client.post("/_sim/clock/advance", json=body)
        assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_request"


def test_queued_outcome_applies_to_the_next_payment(api: SpecClient) -> None:
    resp = api.client.post(
        "/_sim/outcomes",
        json={
            "api": "freefin",
            "object": "payment",
            "outcome": "failed:stolen_card",
            "delay_ms": 0,
        },
    )
    assert resp.status_code == 200 and len(resp.json["queued"]) == 1
    payment = create_payment(api)
    api.client.post("/_sim/clock/advance", json={"seconds": 0.01})
    got = api.get(f"{FF}/payments/{payment['id']}").json
    assert got["status"] == "failed" and got["failure_code"] == "stolen_card"
    assert api.client.get("/_sim/outcomes").json["queued"] == []


def test_bad_outcomes_are_400(api: SpecClient) -> None:
    for body in (
        {"api": "freefin", "object": "payment", "outcome": "teleported"},
        {"api": "nope", "object": "payment", "outcome": "succeeded"},
        {"api": "freefin", "object": "payment", "outcome": "succeeded", "delay_ms": "soon"},
    ):
        assert api.client.post("/_sim/outcomes", json=body).status_code == 400


def test_forced_transitions_follow_the_state_machine(api: SpecClient) -> None:
    payment = create_payment(api)
    ok = api.client.post(
        "/_sim/transition",
        json={"api": "freefin", "object": "payment", "id": payment["id"], "status": "succeeded"},
    )
    assert ok.status_code == 200 and ok.json["status"] == "succeeded"
    bad = api.client.post(
        "/_sim/transition",
        json={"api": "freefin", "object": "payment", "id": payment["id"], "status": "pending"},
    )
    assert bad.status_code == 409
    missing = api.client.post(
        "/_sim/transition",
        json={"api": "freefin", "object": "payment", "id": "nope", "status": "failed"},
    )
    assert missing.status_code == 404


def test_status_fault_for_the_next_n_requests(api: SpecClient) -> None:
    api.client.post(
        "/_sim/faults", json={"path": "/banks/sbp", "kind": "status", "status": 503, "count": 2}
    )
    codes = [api.client.get(f"{FF}/banks/sbp").status_code for _ in range(3)]
    assert codes[:2] == [503, 503] and codes[2] != 503


def test_latency_fault(api: SpecClient) -> None:
    api.client.post(
        "/_sim/faults", json={"path": "/banks", "kind": "latency", "latency_ms": 200, "count": 1}
    )
    started = time.monotonic()
    api.get(f"{FF}/banks/sbp")
    assert time.monotonic() - started >= 0.2


def test_bad_faults_and_defects_are_400(api: SpecClient) -> None:
    for body in (
        {"path": "(", "kind": "status"},
        {"path": "/x", "kind": "meteor"},
        {"path": "/x", "kind": "status", "status": 200},
        {"kind": "drop"},
        {"path": "/x", "kind": "drop", "ratio": 2},
    ):
        assert api.client.post("/_sim/faults", json=body).status_code == 400, body
    assert api.client.post("/_sim/defects", json={"enable": ["no.such"]}).status_code == 400
    catalog = api.client.get("/_sim/defects").json["catalog"]
    assert "freefin.refund_over_remainder" in catalog


def test_defects_switch_on_and_off(api: SpecClient) -> None:
    api.client.post("/_sim/defects", json={"enable": ["freefin.wrong_error_envelope"]})
    assert (
        api.client.get(f"{FF}/banks/sbp").json == {"message": "missing or invalid API key"}
        or "message" in api.client.get(f"{FF}/banks/sbp").json
    )
    api.client.delete("/_sim/defects")
    assert "error" in api.client.get(f"{FF}/banks/sbp").json


def test_script_file_is_loaded_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "script.yaml"
    script.write_text(
        "defects: [freefin.no_retry_after]\n"
        "outcomes:\n  - {api: freefin, object: payment, outcome: expired}\n"
        "faults:\n  - {path: /payouts, kind: status, status: 502, count: 1}\n",
        encoding="utf-8",
    )
    app: Flask = create_app({"TICKER": False, "SCRIPT_FILE": str(script)})
    client = app.test_client()
    assert client.get("/_sim/defects").json["active"] == ["freefin.no_retry_after"]
    assert len(client.get("/_sim/outcomes").json["queued"]) == 1
    assert len(client.get("/_sim/faults").json["faults"]) == 1


def test_the_root_names_the_apis_the_dashboard_and_the_control_api(api: SpecClient) -> None:
    resp = api.client.get("/")
    assert resp.status_code == 200 and resp.is_json
    index = resp.json
    assert {a: v["base_path"] for a, v in index["apis"].items()} == {
        "freefin": FF,
        "kaspi": "/api",
    }
    # every address it names is one the simulator answers
    assert api.get(f"{index['apis']['freefin']['base_path']}/banks/sbp").status_code == 200
    me = api.get(f"{index['apis']['kaspi']['base_path']}/v1/me", key=None,
                 headers={"X-API-Key": "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"})  # fmt: skip
    assert me.status_code == 200
    assert api.client.get(index["dashboard"]).status_code == 200
    assert api.client.get(index["health"]).json["status"] == "ok"
    assert index["health"].startswith(index["control_api"] + "/")
