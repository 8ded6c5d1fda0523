"""``--workers 2``: two processes over one store, on SQLite and on a real PostgreSQL. Every
request goes on a new connection, so both workers answer; what one worker is told (the clock,
defects, faults, queued outcomes, a reset) every worker does, the data guarantees hold across
them, an event written by one reaches a stream held by the other, and a worker killed under load
loses no acknowledged write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from harness.simproc import SimulatorProcess
from harness.target import bundled_credentials
from tests.conftest import ENGINES, FF, KEY_A1, database

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent
H = {"Authorization": f"Bearer {KEY_A1}", "Connection": "close"}  # a new connection each time


@pytest.fixture(scope="module", params=ENGINES)
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatorProcess]:
    extra = ["--workers", "2", "--threads", "16", "--sse-heartbeat", "1"]
    with SimulatorProcess(db_path=database(request, request.param), extra_args=extra) as proc:
        _both_workers(proc.url)
        yield proc


@pytest.fixture
def clean(sim: SimulatorProcess) -> SimulatorProcess:
    requests.post(f"{sim.url}/_sim/reset", timeout=10).raise_for_status()
    return sim


def _both_workers(base: str) -> set[int]:
    """The pids of the workers seen answering; fails unless both answer."""
    seen: set[int] = set()
    deadline = time.monotonic() + 20
    while len(seen) < 2 and time.monotonic() < deadline:
        answer = requests.get(f"{base}/_sim/health", headers={"Connection": "close"}, timeout=5)
        seen.add(answer.json()["worker"])
    assert len(seen) == 2, f"only {seen} answered"
    return seen


def _post(url: str, body: dict[str, Any], headers: dict[str, str] = H) -> requests.Response:
    while True:  # a 429 is waited out as Retry-After says
        answer = requests.post(url, json=body, headers=headers, timeout=30)
        if answer.status_code != 429:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def _read(base: str, pid: str) -> int:
    while True:  # a 429 is waited out as Retry-After says
        answer = requests.get(f"{base}{FF}/payments/{pid}", headers=H, timeout=10)
        if answer.status_code != 429:
            return answer.status_code
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def _pay(base: str, **body: Any) -> dict[str, Any]:
    answer = _post(f"{base}{FF}/payments", {"amount": 5000, **body})
    assert answer.status_code == 201, answer.text
    payment: dict[str, Any] = answer.json()["payment"]
    return payment


def _get(base: str, pid: str) -> dict[str, Any]:
    answer = requests.get(f"{base}{FF}/payments/{pid}", headers=H, timeout=10)
    assert answer.status_code == 200, answer.text
    payment: dict[str, Any] = answer.json()
    return payment.get("payment", payment)


def test_a_defect_switched_on_one_worker_is_on_in_every_worker(clean: SimulatorProcess) -> None:
    pid = _pay(clean.url)["id"]
    requests.post(
        f"{clean.url}/_sim/defects", json={"enable": ["freefin.wrong_type"]}, timeout=10
    ).raise_for_status()
    assert all(isinstance(_get(clean.url, pid)["amount"], str) for _ in range(20))
    requests.delete(f"{clean.url}/_sim/defects", timeout=10).raise_for_status()
    assert all(isinstance(_get(clean.url, pid)["amount"], int) for _ in range(20))


def test_the_clock_moved_on_one_worker_has_moved_on_every_worker(clean: SimulatorProcess) -> None:
    pid = _pay(clean.url)["id"]  # succeeds 2 s after creation, on the simulated clock
    requests.post(f"{clean.url}/_sim/clock/advance", json={"seconds": 3600}, timeout=10)
    offsets = {
        requests.get(f"{clean.url}/_sim/clock", headers={"Connection": "close"}, timeout=5).json()[
            "offset_s"
        ]
        for _ in range(20)
    }
    assert len(offsets) == 1 and offsets.pop() >= 3600
    assert {_get(clean.url, pid)["status"] for _ in range(10)} == {"succeeded"}
    # a payment created now is stamped on the moved clock, whichever worker created it
    stamps = {_pay(clean.url)["created_at"][:13] for _ in range(6)}
    assert stamps == {time.strftime("%Y-%m-%dT%H", time.gmtime(time.time() + 3600))}


def test_a_queued_outcome_is_used_once_across_workers(clean: SimulatorProcess) -> None:
    requests.post(
        f"{clean.url}/_sim/outcomes",
        json={"api": "freefin", "object": "payment", "outcome": "failed:insufficient_funds"},
        timeout=10,
    ).raise_for_status()
    plans = [
        _post(f"{clean.url}{FF}/payments", {"amount": 5000}).json().get("simulator")
        for _ in range(10)
    ]
    assert sum("insufficient_funds" in str(p) for p in plans) == 1, plans


def test_a_fault_for_one_request_fires_once_across_workers(clean: SimulatorProcess) -> None:
    requests.post(
        f"{clean.url}/_sim/faults",
        json={"path": "/banks/sbp", "kind": "status", "status": 503, "count": 1},
        timeout=10,
    ).raise_for_status()
    codes = [
        requests.get(f"{clean.url}{FF}/banks/sbp", headers=H, timeout=10).status_code
        for _ in range(10)
    ]
    assert sorted(codes) == [200] * 9 + [503]


def test_a_reset_on_one_worker_clears_every_worker(clean: SimulatorProcess) -> None:
    pid = _pay(clean.url)["id"]
    requests.post(
        f"{clean.url}/_sim/defects", json={"enable": ["freefin.wrong_type"]}, timeout=10
    ).raise_for_status()
    requests.post(f"{clean.url}/_sim/reset", timeout=10).raise_for_status()
    for _ in range(10):
        gone = requests.get(f"{clean.url}{FF}/payments/{pid}", headers=H, timeout=10)
        assert gone.status_code == 404
        active = requests.get(f"{clean.url}/_sim/defects", timeout=10).json()["active"]
        assert active == []


def test_racing_creates_and_refunds_across_workers(clean: SimulatorProcess) -> None:
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(32) as pool:
        answers = list(
            pool.map(
                lambda _: _post(
                    f"{clean.url}{FF}/payments",
                    {"amount": 10000, "metadata": {"sim_delay_ms": "0"}},
                    {**H, "Idempotency-Key": key},
                ),
                range(300),
            )
        )
    assert len({a.json()["payment"]["id"] for a in answers}) == 1
    pid = answers[0].json()["payment"]["id"]
    requests.post(f"{clean.url}/_sim/clock/advance", json={"seconds": 1}, timeout=10)
    url = f"{clean.url}{FF}/payments/{pid}/refund"
    with ThreadPoolExecutor(32) as pool:
        refunds = list(pool.map(lambda _: _post(url, {"amount": 300}), range(50)))
    assert sum(r.status_code == 201 for r in refunds) == 33
    assert _get(clean.url, pid)["amount_refunded"] == 9900


def test_an_event_written_by_one_worker_reaches_streams_on_both(clean: SimulatorProcess) -> None:
    got: dict[int, list[str]] = {n: [] for n in range(4)}

    def read(n: int) -> None:
        with requests.get(f"{clean.url}{FF}/events", headers=H, stream=True, timeout=15) as resp:
            for line in resp.iter_lines(decode_unicode=True):
                if line.startswith("event: payment.created"):
                    got[n].append(line)
                    if len(got[n]) == 6:
                        return

    readers = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(4)]
    for reader in readers:
        reader.start()
    time.sleep(0.5)
    for _ in range(6):
        _pay(clean.url)
    for reader in readers:
        reader.join(10)
    assert {n: len(lines) for n, lines in got.items()} == {n: 6 for n in range(4)}


def test_a_worker_killed_under_load_loses_no_acknowledged_write(clean: SimulatorProcess) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                answer = requests.post(
                    f"{clean.url}{FF}/payments", json={"amount": 700}, headers=H, timeout=10
                )
            except requests.RequestException:
                continue  # in flight on the killed worker (cut off at any point): not acknowledged
            if answer.status_code == 201:
                acknowledged.append(answer.json()["payment"]["id"])

    loaders = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    for loader in loaders:
        loader.start()
    time.sleep(1.0)
    victim = min(_both_workers(clean.url))
    os.kill(victim, signal.SIGKILL)
    time.sleep(1.5)
    stop.set()
    for loader in loaders:
        loader.join(15)
    assert len(acknowledged) > 20
    missing = [pid for pid in acknowledged if _read(clean.url, pid) != 200]
    assert missing == []
    assert victim not in _both_workers(clean.url)  # the master started another in its place


def test_rate_limits_are_split_between_workers(clean: SimulatorProcess) -> None:
    """The slow merchant allows 1 request/s with a burst of 3: with two workers each holds
    half, so together they never allow more than one process would."""
    slow = {"Authorization": "Bearer sk_test_slo001_Xy4Zb7Cd1Ef5Gh8J", "Connection": "close"}
    codes = [
        requests.get(f"{clean.url}{FF}/banks/sbp", headers=slow, timeout=10).status_code
        for _ in range(10)
    ]
    assert codes.count(429) >= 6 and codes.count(200) <= 4, codes


@pytest.mark.slow
@pytest.mark.timeout(900)  # a whole conformance run, beside other tests
@pytest.mark.parametrize("engine", ENGINES)
def test_the_conformance_suites_pass_on_two_workers(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    """The whole default run (contract + scenarios, both APIs) against two workers sharing one
    store: what one worker is told by the control API, the other does."""
    db = database(request, engine, str(tmp_path / "sim.db"))
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(yaml.safe_dump(bundled_credentials()))
    with SimulatorProcess(db_path=db, extra_args=["--workers", "2"]) as sim:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "paysim",
                "conform",
                "--target-url",
                sim.url,
                "--control-url",
                f"{sim.url}/_sim",
                "--credentials-file",
                str(credentials),
                "--report-dir",
                str(tmp_path / "report"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert done.returncode == 0, done.stdout[-4000:]
    assert summary["totals"]["failed"] == 0 and summary["totals"]["passed"] > 500
