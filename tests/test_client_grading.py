"""Client grading on the simulator (--grade-clients): a client's requests are judged against the
integration rules, each rule shown to pass for a careful client and to fail for the client that
makes the mistake it is meant for (and for no other), over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess
from paysim.cli import main

FREEFIN_KEY = "sk_test_rom001_Jq7Zt2xVw9LmN4pR"  # the seed's test terminals
SLOW_KEY = "sk_test_slo001_Xy4Zb7Cd1Ef5Gh8J"  # its merchant: 1 request/s, burst 3
PAYMENTS = "/api/v1/public/payments"
EVENTS = "/api/v1/public/events"
SIGNED_KEY = "sk_test_rom002_Hs3Kd8Pq1Vx6Yb0C"  # a terminal that requires signatures
SIGNING_SECRET = "ss_rom002_5a9d2e7c1b8f4036"
NO_SUCH = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("grading")
    with SimulatorProcess(db_path=str(folder / "sim.db"), extra_args=["--grade-clients"]) as proc:
        yield proc.url


@pytest.fixture
def fresh(sim: str) -> str:
    requests.delete(f"{sim}/_sim/clients/report", timeout=10).raise_for_status()
    requests.delete(f"{sim}/_sim/faults", timeout=10).raise_for_status()
    return sim


def _headers(key: str | None = None, credential: str = FREEFIN_KEY) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _pay(base: str, key: str | None, amount: Any = 10000) -> requests.Response:
    body = json.dumps({"amount": amount, "currency": "RUB", "method": "sbp", "order_id": "o-1"})
    return requests.post(base + PAYMENTS, data=body, headers=_headers(key), timeout=10)


def _fail_next_create(base: str, status: int = 503, count: int = 1) -> None:
    requests.post(
        f"{base}/_sim/faults",
        json={
            "path": "^/api/v1/public/payments$",
            "method": "POST",
            "kind": "status",
            "status": status,
            "count": count,
        },
        timeout=10,
    ).raise_for_status()


def careful(base: str) -> None:
    key = str(uuid.uuid4())
    _fail_next_create(base)
    assert _pay(base, key).status_code == 503
    time.sleep(0.2)
    created = _pay(base, key)  # the same key and body
    assert created.status_code == 201
    url = base + PAYMENTS + "/" + created.json()["payment"]["id"]
    for wait in (0.1, 0.2):  # a status read or two, backing off
        time.sleep(wait)
        assert requests.get(url, headers=_headers(), timeout=10).ok


def no_key(base: str) -> None:
    assert _pay(base, None).status_code == 201


def new_key_on_retry(base: str) -> None:
    _fail_next_create(base)
    assert _pay(base, str(uuid.uuid4())).status_code == 503
    assert _pay(base, str(uuid.uuid4())).status_code == 201


def float_amount(base: str) -> None:
    assert _pay(base, str(uuid.uuid4()), amount=100.5).status_code == 400


def unknown_method(base: str) -> None:
    body = json.dumps({"amount": 100, "method": "crypto"})
    requests.post(base + PAYMENTS, data=body, headers=_headers(str(uuid.uuid4())), timeout=10)


def retry_storm(base: str) -> None:
    key = str(uuid.uuid4())
    _fail_next_create(base, count=5)
    statuses = [_pay(base, key).status_code for _ in range(6)]  # at once, the same key
    assert statuses == [503] * 5 + [201]


def polls(base: str) -> None:
    url = base + PAYMENTS + "/" + _pay(base, str(uuid.uuid4())).json()["payment"]["id"]
    for _ in range(12):
        requests.get(url, headers=_headers(), timeout=10)


def _signed(base: str, sign: Callable[[dict[str, Any]], bytes]) -> requests.Response:
    payload = {"amount": 100, "description": "Чай"}
    sent = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = _headers(str(uuid.uuid4()), credential=SIGNED_KEY)
    headers["X-Freefin-Signature"] = _hmac(sign(payload))
    return requests.post(base + PAYMENTS, data=sent, headers=headers, timeout=10)


def _hmac(body: bytes) -> str:
    return "sha256=" + hmac.new(SIGNING_SECRET.encode(), body, hashlib.sha256).hexdigest()


def signs_reserialised(base: str) -> None:
    resp = _signed(base, lambda p: json.dumps(p).encode())  # not the bytes sent
    assert resp.status_code == 400
    assert "re-serialised as json.dumps(body)" in resp.text, resp.text


def signs_raw(base: str) -> None:
    resp = _signed(
        base, lambda p: json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert resp.status_code == 201, resp.text


def _stream(base: str, last_event_id: str | None) -> str | None:
    """Open the event stream, read the first event's id (or none), drop the connection."""
    headers = _headers()
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    with requests.get(base + EVENTS, headers=headers, stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines(decode_unicode=True):
            if line.startswith("id:"):
                return str(line[3:].strip())
    return None


def sse_forgets(base: str) -> None:
    _pay(base, str(uuid.uuid4()))
    _stream(base, None)
    _stream(base, None)  # reopened without Last-Event-ID: what came meanwhile is lost


def sse_resumes(base: str) -> None:
    _pay(base, str(uuid.uuid4()))
    seen = _stream(base, None)
    assert seen
    _pay(base, str(uuid.uuid4()))
    _stream(base, seen)


def _limit(base: str, wait_properly: bool) -> None:
    """Read until a 429; then wait (or not) and read again."""
    slow = _headers(credential=SLOW_KEY)
    for _ in range(20):
        resp = requests.get(base + PAYMENTS + "/" + NO_SUCH, headers=slow, timeout=10)
        if resp.status_code == 429:
            if wait_properly:
                time.sleep(float(resp.headers["Retry-After"]) + 0.1)
            requests.get(base + PAYMENTS + "/" + NO_SUCH, headers=slow, timeout=10)
            return
    raise AssertionError("no 429 within 20 requests")


def _unavailable(base: str) -> None:
    """A read answered 503 with Retry-After: 2, sent again at once."""
    fault = {"path": PAYMENTS, "kind": "status", "status": 503, "retry_after": 2, "count": 1}
    requests.post(f"{base}/_sim/faults", json=fault, timeout=10).raise_for_status()
    for _ in range(2):
        requests.get(base + PAYMENTS + "/" + NO_SUCH, headers=_headers(), timeout=10)


CLIENTS: dict[str, tuple[Callable[[str], None], set[str]]] = {
    "careful": (careful, set()),
    "no_key": (no_key, {"client.idempotency_key"}),
    "new_key_on_retry": (new_key_on_retry, {"client.same_key_on_retry"}),
    "float_amount": (float_amount, {"client.money"}),
    "unknown_method": (unknown_method, {"client.request_conformance"}),
    "ignores_retry_after": (lambda b: _limit(b, False), {"client.honours_retry_after"}),
    "ignores_503_retry_after": (_unavailable, {"client.honours_retry_after"}),
    "retry_storm": (retry_storm, {"client.bounded_backoff"}),
    "polls": (polls, {"client.no_tight_polling"}),
    "signs_reserialised": (signs_reserialised, {"client.signature_raw_body"}),
    "sse_forgets": (sse_forgets, {"client.sse_resume"}),
}


def _report(base: str) -> dict[str, Any]:
    resp = requests.get(f"{base}/_sim/clients/report", timeout=10)
    resp.raise_for_status()
    return resp.json()


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_each_mistake_fails_its_rule_alone(fresh: str, name: str) -> None:
    run, expected = CLIENTS[name]
    run(fresh)
    (client,) = [c for c in _report(fresh)["clients"] if c["api"] == "freefin"]
    failed = {f["rule"] for f in client["findings"] if f["verdict"] == "failed"}
    assert failed == expected, client["findings"]
    for finding in client["findings"]:
        if finding["verdict"] == "failed":
            assert finding["evidence"] and finding["fix"]
            assert FREEFIN_KEY not in json.dumps(finding)  # the key is masked
            assert SLOW_KEY not in json.dumps(finding)


def test_a_careful_client_passes_every_rule(fresh: str) -> None:
    careful(fresh)
    _limit(fresh, True)
    signs_raw(fresh)
    sse_resumes(fresh)
    clients = _report(fresh)["clients"]
    assert len(clients) == 3  # one per credential
    verdicts = [(f["rule"], f["verdict"]) for c in clients for f in c["findings"]]
    assert not [v for v in verdicts if v[1] == "failed"], verdicts
    client_rules = {r for r in _report(fresh)["rules"] if r.startswith("client.")}
    assert {rule for rule, verdict in verdicts if verdict == "passed"} == client_rules
    assert not [r for r, _ in verdicts if r.startswith("server.")]  # the proxy judges those


def test_the_report_survives_a_reset_and_the_command_writes_it(fresh: str, tmp_path: Path) -> None:
    no_key(fresh)
    requests.post(f"{fresh}/_sim/reset", timeout=10).raise_for_status()
    assert _report(fresh)["clients"], "a reset wiped the client log"
    code = main(["client-report", "--target-url", fresh, "--report-dir", str(tmp_path)])
    assert code == 1  # a rule failed
    junit = (tmp_path / "client-grade.junit.xml").read_text()
    assert 'name="client.idempotency_key"' in junit and "<failure" in junit
    assert FREEFIN_KEY not in "".join(p.read_text() for p in tmp_path.iterdir())


def test_the_command_writes_only_the_formats_asked_for(fresh: str, tmp_path: Path) -> None:
    no_key(fresh)
    args = ["client-report", "--target-url", fresh, "--report-dir", str(tmp_path)]
    assert main([*args, "--format", "html", "--format", "junit"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "client-grade.html",
        "client-grade.junit.xml",
    ]
    assert "client.idempotency_key" in (tmp_path / "client-grade.html").read_text()


def test_a_client_that_never_creates_is_incomplete_not_green(fresh: str, tmp_path: Path) -> None:
    """Reads only: nothing fails, and the rules about creates and retries are not exercised;
    the command exits 5 and says which request would meet each situation."""
    for _ in range(2):
        requests.get(fresh + PAYMENTS + "/" + NO_SUCH, headers=_headers(), timeout=10)
    (client,) = _report(fresh)["clients"]
    verdicts = {f["rule"]: f["verdict"] for f in client["findings"]}
    assert "failed" not in verdicts.values()
    assert verdicts["client.request_conformance"] == "passed"
    for rule in ("client.idempotency_key", "client.same_key_on_retry", "client.bounded_backoff"):
        assert verdicts[rule] == "not_exercised", verdicts
    missing = {m["rule"]: m["to_meet"] for m in client["not_exercised"]}
    assert "POST /api/v1/public/payments" in missing["client.idempotency_key"]
    args = ["client-report", "--target-url", fresh, "--report-dir", str(tmp_path)]
    assert main(args) == 5
    markdown = (tmp_path / "client-grade.md").read_text()
    assert "Incomplete:" in markdown and "## Situations never met" in markdown
    assert "- client.same_key_on_retry: " in markdown
    html = (tmp_path / "client-grade.html").read_text()
    assert "incomplete" in html and "every rule held" not in html
    page = requests.get(f"{fresh}/_sim/ui/clients", timeout=10).text  # the dashboard, too
    assert "incomplete:" in page and "every rule held" not in page and "To meet it:" in page


def test_no_client_at_all_is_incomplete(fresh: str, tmp_path: Path) -> None:
    assert main(["client-report", "--target-url", fresh, "--report-dir", str(tmp_path)]) == 5


def test_any_bytes_in_a_logged_body_are_written_in_every_format(fresh: str, tmp_path: Path) -> None:
    """NUL, an escape character, a lone surrogate and invalid UTF-8 in a refused create."""
    body = b'{"amount": 1.5, "order_id": "\x00\x1b[31m\xff\xfe", "x": "\\ud800"}'
    headers = _headers(None)
    requests.post(fresh + PAYMENTS, data=body, headers=headers, timeout=10)
    args = ["client-report", "--target-url", fresh, "--report-dir", str(tmp_path)]
    assert main(args) == 1  # no key, a float amount: failed, and every file written
    junit = (tmp_path / "client-grade.junit.xml").read_text()
    ET.fromstring(junit.split("?>", 1)[1])  # well-formed
    assert "\\x00" in junit and "\x00" not in junit
    data = json.loads((tmp_path / "client-grade.json").read_text())
    assert data[0]["outcome"] == "failed"
    for name in ("client-grade.md", "client-grade.html"):
        text = (tmp_path / name).read_text()
        assert "\x00" not in text and "\x1b" not in text and "\\x1b" in text


def test_a_simulator_that_does_not_answer_the_report_is_exit_3_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as listener:  # accepts, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        args = ["client-report", "--target-url", url, "--report-dir", str(tmp_path)]
        assert main([*args, "--timeout", "0.5"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did not answer the report within 0.5 s" in err, err
    assert not list(tmp_path.iterdir())
