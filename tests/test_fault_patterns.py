"""A fault's path pattern cannot hang a worker: it is matched in linear time (RE2), outside the
faults' lock, and what cannot be matched so is refused when the fault is added."""

from __future__ import annotations

import pytest
import requests

from harness.simproc import SimulatorProcess
from simulator.core.faults import Faults
from tests.conftest import FF, KEY_A1, SpecClient

CATASTROPHIC = r"^/api/v1/public/(a+)+$"  # exponential under a backtracking engine
LONG_PATH = "/api/v1/public/" + "a" * 3000 + "!"  # within the server's request line


def test_a_catastrophic_pattern_matches_at_once_in_process() -> None:
    faults = Faults()
    faults.add(path=CATASTROPHIC, kind="status", status=418)
    assert faults.match("GET", LONG_PATH) is None  # Python's re would not return in a lifetime
    assert faults.match("GET", "/api/v1/public/aaa").status == 418  # type: ignore[union-attr]


@pytest.mark.server
def test_a_catastrophic_pattern_does_not_freeze_the_server() -> None:
    with SimulatorProcess(extra_args=["--threads", "4"]) as sim:
        added = requests.post(
            f"{sim.url}/_sim/faults", json={"path": CATASTROPHIC, "kind": "latency"}, timeout=10
        )
        assert added.status_code == 200, added.text
        # a backtracking matcher holds the worker (and the faults' lock) far past this bound
        answer = requests.get(
            f"{sim.url}{LONG_PATH}", headers={"Authorization": f"Bearer {KEY_A1}"}, timeout=20
        )
        assert answer.status_code == 404
        assert requests.get(f"{sim.url}/_sim/health", timeout=10).ok


@pytest.mark.parametrize(
    "path", [r"(?=/api)", r"(a)\1", r"(?<=x)/banks", "(" * 2000, r"[z-a]", "x{1001}{1001}"]
)
def test_patterns_re2_refuses_are_a_400(api: SpecClient, path: str) -> None:
    body = {"path": path, "kind": "status", "status": 503}
    answer = api.client.post("/_sim/faults", json=body)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json["error"]["code"] == "bad_request"
    script = api.client.post("/_sim/script", json={"faults": [body]})
    assert script.status_code == 400
    assert api.client.get("/_sim/faults").json["faults"] == []
    assert api.get(f"{FF}/banks/sbp").status_code == 200
