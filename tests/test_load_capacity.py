"""The capacity probe's pieces that need no Locust run: the seed it serves and the steady state
it reads from Locust's history."""

from __future__ import annotations

from pathlib import Path

import yaml

from loadtests.capacity import steady_state, unlimited_seed

HEADER = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,99%\n"


def test_the_unlimited_seed_raises_every_merchants_rate_limit(tmp_path: Path) -> None:
    seed = yaml.safe_load(unlimited_seed(tmp_path / "seed.yaml").read_text(encoding="utf-8"))
    merchants = [m for api in ("freefin", "kaspi") for m in seed[api]["merchants"]]
    assert merchants
    assert all(m["rate_limit"] == {"rate": 100_000, "burst": 100_000} for m in merchants)


def test_the_steady_state_is_the_last_window_of_aggregated_rows(tmp_path: Path) -> None:
    history = tmp_path / "stats_history.csv"
    rows = [f"{t},4,,Aggregated,{rps},0,{t},{10 * t}\n" for t, rps in enumerate([1, 100, 200, 300])]
    history.write_text(
        HEADER + "0,4,GET,/x,999,0,1,1\n" + "5,4,,Aggregated,0,0,N/A,N/A\n" + "".join(rows),
        encoding="utf-8",
    )
    assert steady_state(history, window=2) == {"rps": 250.0, "p50": 3.0, "p99": 30.0}
    assert steady_state(history, window=10) == {"rps": 150.2, "p50": 3.0, "p99": 30.0}


def test_a_history_without_percentiles_has_no_steady_state(tmp_path: Path) -> None:
    history = tmp_path / "stats_history.csv"
    history.write_text(HEADER + "0,1,,Aggregated,0,0,N/A,N/A\n", encoding="utf-8")
    assert steady_state(history) == {"rps": 0.0, "p50": 0.0, "p99": 0.0}
