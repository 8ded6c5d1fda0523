"""paysim proxy --record FILE: a session written as HAR 1.2, in the order the requests came, with
timings, credentials masked as the client report masks them, an event stream as its events."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess
from simulator import har
from tests.test_proxy import KEY, PAYMENTS, ProxyProcess


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyProcess, Path]]:
    folder = tmp_path_factory.mktemp("record")
    session = folder / "session.har"
    with (
        SimulatorProcess(
            db_path=str(folder / "sim.db"), extra_args=["--sse-heartbeat", "0.3"]
        ) as sim,
        ProxyProcess("freefin", sim.url, folder, "--record", str(session)) as proxy,
    ):
        yield proxy, session


def _entries(session: Path) -> list[dict[str, Any]]:
    doc = json.loads(session.read_text(encoding="utf-8"))
    assert doc["log"]["version"] == "1.2"
    return list(doc["log"]["entries"])


def test_a_session_is_recorded_in_order_with_timings_and_no_credential(
    recorded: tuple[ProxyProcess, Path],
) -> None:
    proxy, session = recorded
    auth = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"amount": 1500, "currency": "RUB", "method": "sbp", "order_id": "rec-1"}
    created = requests.post(proxy.url + PAYMENTS, json=body, headers=auth, timeout=10)
    assert created.status_code == 201
    paid = created.json()["payment"]["id"]
    read = requests.get(f"{proxy.url}{PAYMENTS}/{paid}?expand=1", headers=auth, timeout=10)
    missing = requests.get(f"{proxy.url}{PAYMENTS}/nope", headers=auth, timeout=10)
    assert (read.status_code, missing.status_code) == (200, 404)
    entries = _entries(session)[-3:]
    assert [e["_seq"] for e in entries] == sorted(e["_seq"] for e in entries)
    assert [(e["request"]["method"], e["response"]["status"]) for e in entries] == [
        ("POST", 201),
        ("GET", 200),
        ("GET", 404),
    ]
    first = entries[0]
    assert json.loads(first["request"]["postData"]["text"]) == body
    assert json.loads(first["response"]["content"]["text"])["payment"]["id"] == paid
    assert entries[1]["request"]["queryString"] == [{"name": "expand", "value": "1"}]
    for e in entries:
        assert e["timings"]["wait"] >= 0 and e["timings"]["receive"] >= 0
        assert e["time"] == pytest.approx(e["timings"]["wait"] + e["timings"]["receive"], abs=0.01)
        assert e["startedDateTime"].endswith("Z")
    sent = {h["name"].lower(): h["value"] for h in first["request"]["headers"]}
    assert sent["idempotency-key"] == auth["Idempotency-Key"]
    assert sent["authorization"].startswith("Bearer ") and "…" in sent["authorization"]
    assert KEY not in session.read_text(encoding="utf-8")


def test_an_event_stream_is_recorded_as_its_events(recorded: tuple[ProxyProcess, Path]) -> None:
    proxy, session = recorded
    auth = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"amount": 700, "currency": "RUB", "method": "sbp", "order_id": "rec-2"}
    paid = requests.post(proxy.url + PAYMENTS, json=body, headers=auth, timeout=10).json()
    with requests.get(
        proxy.url + "/api/v1/public/events",
        headers={"Authorization": f"Bearer {KEY}"},
        stream=True,
        timeout=10,
    ) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data:") and paid["payment"]["id"] in line:
                break
    deadline = time.monotonic() + 15  # written when the proxy sees the client gone
    while time.monotonic() < deadline:
        streams = [e for e in _entries(session) if e["request"]["url"].endswith("/events")]
        if streams:
            break
        time.sleep(0.2)
    assert streams, "the event stream was never recorded"
    content = streams[0]["response"]["content"]
    assert content["mimeType"].startswith("text/event-stream")
    ids = [json.loads(e["data"]).get("payload", {}).get("id") for e in content["_events"]]
    assert paid["payment"]["id"] in ids


def test_the_file_is_valid_har_after_every_entry(tmp_path: Path) -> None:
    recorder = har.Recorder(tmp_path / "s.har")
    assert _entries(tmp_path / "s.har") == []
    for n in (1, 2):
        recorder.write({"_seq": n})
        assert [e["_seq"] for e in _entries(tmp_path / "s.har")] == list(range(1, n + 1))
    recorder.close()


def test_events_of_keeps_events_and_drops_heartbeats() -> None:
    text = ': connected\n\nid: 7\nevent: payment\ndata: {"a": 1}\n\n: ping\n\ndata: x\ndata: y\n\n'
    assert har.events_of(text) == [
        {"id": "7", "event": "payment", "data": '{"a": 1}'},
        {"data": "x\ny"},
    ]


def test_an_answer_the_proxy_made_is_marked_as_its_own(recorded: tuple[ProxyProcess, Path]) -> None:
    proxy, session = recorded
    for kind, extra in (("status", {"status": 503}), ("drop", {})):
        fault = {"path": "^/api/v1/public/payments$", "kind": kind, "when": "after", "count": 1}
        assert requests.post(proxy.url + "/_sim/faults", json={**fault, **extra}, timeout=5).ok
        auth = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": str(uuid.uuid4())}
        body = {"amount": 900, "currency": "RUB", "method": "sbp", "order_id": f"rec-{kind}"}
        with contextlib.suppress(requests.RequestException):  # the dropped answer
            requests.post(proxy.url + PAYMENTS, json=body, headers=auth, timeout=10)
        again = requests.post(proxy.url + PAYMENTS, json=body, headers=auth, timeout=10)
        assert again.status_code == 200  # the retry finds the work done
    entries = _entries(session)[-4:]
    assert [e["response"]["status"] for e in entries] == [503, 200, 502, 200]
    assert [e.get("_answeredBy") for e in entries] == ["proxy", None, "proxy", None]
    assert "text" in entries[0]["response"]["content"]
    assert "text" not in entries[2]["response"]["content"]


def test_a_signing_secret_in_a_body_is_masked() -> None:
    secret = "whsec_" + "ab" * 24
    body = json.dumps({"id": "we_1", "secret": secret, "events": ["x"]}).encode()
    item = har.entry(
        seq=1,
        started=0.0,
        method="POST",
        url="http://127.0.0.1/api/v1/webhook-endpoints",
        query=[],
        request_headers=[("X-API-Key", "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8")],
        request_body=json.dumps({"url": "https://shop.example/hook", "secret": secret}).encode(),
        status=201,
        response_headers=[("Content-Type", "application/json")],
        response_body=body,
        wait_s=0.0,
        receive_s=0.0,
    )
    text = json.dumps(item)
    assert secret not in text and "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8" not in text
    answer = json.loads(item["response"]["content"]["text"])
    assert answer["id"] == "we_1" and answer["secret"].startswith("whsec_a")
    assert har.without_secrets(b'{"amount": 1}') == b'{"amount": 1}'
