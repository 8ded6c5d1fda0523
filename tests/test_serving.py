"""The server the simulator runs on (simulator/server.py): two instances on one machine share
nothing, a worker whose server is killed with -9 goes with it, the server's own environment
is no part of a request, and a stop is graceful."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from harness.simproc import SimulatorProcess
from tests.conftest import KEY_A1, KEY_B

pytestmark = pytest.mark.server
KASPI_KEY = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"


def test_two_simulators_on_one_machine_share_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home)}
    with SimulatorProcess(env=env) as first, SimulatorProcess(env=env) as second:
        requests.post(f"{first.url}/_sim/clock/advance", json={"seconds": 60}, timeout=10)
        assert requests.get(f"{second.url}/_sim/clock", timeout=10).json()["offset_s"] == 0
        first.stop()
        assert requests.get(f"{second.url}/_sim/health", timeout=10).ok
        assert requests.post(f"{second.url}/_sim/reset", timeout=10).ok
    assert list(home.iterdir()) == []  # no control socket, no pid file left in the home


def test_a_worker_goes_with_its_server_killed_with_minus_9() -> None:
    with SimulatorProcess(extra_args=["--workers", "2"]) as sim:
        assert sim.proc is not None
        workers = psutil.Process(sim.proc.pid).children(recursive=True)
        assert len(workers) >= 2
        os.kill(sim.proc.pid, signal.SIGKILL)  # the server alone, not its process group
        sim.proc.wait(10)
        # A worker polls its parent: give a loaded machine time to run it.
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"workers outlived their server: {[p.pid for p in alive]}"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{sim.url}/_sim/health", timeout=2)


def test_the_servers_environment_is_no_part_of_a_request() -> None:
    """granian starts each WSGI environ from the process environment: a variable named as a
    header would otherwise reach the app as one, from every client."""
    env = {"HTTP_X_API_KEY": KASPI_KEY, "HTTP_AUTHORIZATION": f"Bearer {KEY_B}"}
    with SimulatorProcess(env=env) as sim:
        assert requests.get(f"{sim.url}/api/v1/invoices", timeout=10).status_code == 401
        payments = requests.get(f"{sim.url}/api/v1/public/payments/pay_x", timeout=10)
        assert payments.status_code == 401
        given = requests.get(
            f"{sim.url}/api/v1/public/payments/pay_x",
            headers={"Authorization": f"Bearer {KEY_A1}"},
            timeout=10,
        )
        assert given.status_code == 404  # a header the client sends is still read


def test_a_stop_is_graceful_and_prompt() -> None:
    sim = SimulatorProcess().start()
    try:
        assert sim.proc is not None
        started = time.monotonic()
        sim.proc.send_signal(signal.SIGTERM)
        assert sim.proc.wait(15) == 0
        assert time.monotonic() - started < 10
    finally:
        sim.close()


def test_a_worker_whose_server_died_while_it_started_exits_at_once() -> None:
    """A worker that reaches its app after its server is gone (its parent is init by then)
    exits instead of serving on, orphaned."""
    code = (
        "import os, time\n"
        "os.environ['PAYSIM_SERVER_PID'] = str(2**22 + 7)\n"  # no such process: the server gone
        "from simulator.server import _follow_parent\n"
        "_follow_parent()\n"
        "time.sleep(20)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], timeout=30, check=False)
    assert done.returncode == 1 and time.monotonic() - started < 15
