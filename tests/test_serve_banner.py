"""The serve banner: at start the simulator says where each API is, a test key of each, where the
store is and whether it keeps what it acknowledged, and how to stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.simproc import SimulatorProcess
from simulator.__main__ import banner, parse_args


@pytest.mark.parametrize(
    ("db", "said"),
    [
        (":memory:", "NOT durable"),
        ("paysim.db", "(SQLite, WAL): every acknowledged write survives kill -9"),
        ("postgresql://paysim:s3cret@db.internal:5433/sandbox", "PostgreSQL db.internal:5433"),
    ],
)
def test_the_banner_says_where_the_store_is_and_whether_it_is_durable(db: str, said: str) -> None:
    text = banner(parse_args(["--db", db, "--port", "9123"]))
    assert said in text
    assert "s3cret" not in text  # a password in the URL is never printed
    assert "http://127.0.0.1:9123/api/v1/public" in text and "http://127.0.0.1:9123/api " in text
    assert "sk_test_rom001_Jq7Zt2xVw9LmN4pR" in text and "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8" in text
    assert "Ctrl+C" in text
    assert "dashboard     http://127.0.0.1:9123/_sim/ui/" in text


def test_with_a_control_token_the_banner_says_how_to_open_the_dashboard() -> None:
    text = banner(parse_args(["--control-token", "t0ken", "--port", "9123"]))
    assert "(send X-Control-Token)" in text and "?token=" in text
    assert "t0ken" not in text  # the token given is not echoed


def test_a_started_simulator_prints_it_first(tmp_path: Path) -> None:
    with SimulatorProcess(db_path=str(tmp_path / "sim.db"), extra_args=["--workers", "2"]) as sim:
        log = Path(sim.log_path).read_text(encoding="utf-8")
    head = log.split("\n", 10)
    assert head[0] == "paysim simulator", log[:500]
    assert f"http://127.0.0.1:{sim.port}/api/v1/public" in log
    assert "workers 2" in log and str(tmp_path / "sim.db") in log


def test_an_unknown_defect_is_refused_before_the_server_starts() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--defect", "freefin.no_such", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown defect freefin.no_such" in done.stderr and "Traceback" not in done.stderr
