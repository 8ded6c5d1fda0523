"""The seed file holds the numbers in force: a seed of one's own takes what it leaves out from the
bundled one, and no other module states them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from paysim.documents import DEFAULT_SEED
from simulator.core.seed import load_seed

BUNDLED = yaml.safe_load(DEFAULT_SEED.read_text(encoding="utf-8"))
OWN = {
    "freefin": {
        "merchants": [
            {
                "id": "m-plain",
                "name": "plain",
                "terminals": [
                    {
                        "id": "t1",
                        "name": "t1",
                        "key": "sk_test_plain1_abcdefgh",
                        "signing_secret": "ss_plain_12345678",
                    }
                ],
            },
            {
                "id": "m-slow",
                "name": "slow",
                "rate_limit": {"rate": 1, "burst": 2},
                "terminals": [
                    {
                        "id": "t2",
                        "name": "t2",
                        "key": "sk_test_slow01_abcdefgh",
                        "signing_secret": "ss_slow_12345678",
                    }
                ],
            },
        ]
    },
    "kaspi": {"merchants": [{"id": "k1", "name": "k1", "api_key": "kp_test_own_12345678"}]},
    "webhooks": {"timeout_s": 2},
}


def _own(tmp_path: Path, doc: dict[str, object]) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_a_seed_of_ones_own_takes_what_it_leaves_out_from_the_bundled_one(tmp_path: Path) -> None:
    seed = load_seed(_own(tmp_path, OWN))
    plain, slow = seed["freefin"]["merchants"]
    assert plain["rate_limit"] == BUNDLED["defaults"]["rate_limit"]
    assert slow["rate_limit"] == {"rate": 1, "burst": 2}
    assert seed["kaspi"]["merchants"][0]["rate_limit"] == BUNDLED["defaults"]["rate_limit"]
    schedule = BUNDLED["webhooks"]["retry_schedule"]
    assert seed["webhooks"] == {"retry_schedule": schedule, "timeout_s": 2}


def test_its_own_defaults_win(tmp_path: Path) -> None:
    seed = load_seed(_own(tmp_path, {**OWN, "defaults": {"rate_limit": {"rate": 5, "burst": 6}}}))
    assert seed["freefin"]["merchants"][0]["rate_limit"] == {"rate": 5, "burst": 6}


def test_a_bad_default_is_refused_with_where_it_is(tmp_path: Path) -> None:
    bad = {**OWN, "defaults": {"rate_limit": {"rate": 0, "burst": 6}}}
    with pytest.raises(ValueError, match="defaults/rate_limit/rate"):
        load_seed(_own(tmp_path, bad))


def test_the_simulator_runs_on_the_seeds_numbers(tmp_path: Path) -> None:
    from simulator.app import create_app

    doc = {**OWN, "webhooks": {"retry_schedule": [0, 7], "timeout_s": 3}}
    app = create_app({"TICKER": False, "SEED_FILE": str(_own(tmp_path, doc))})
    rt = app.extensions["paysim.runtime"]
    try:
        assert rt.webhook_config.retry_schedule == [0, 7]
        assert rt.webhook_config.timeout_s == 3
    finally:
        rt.stop()


def test_the_architectures_rules_table_shows_the_seeds_numbers() -> None:
    table = (Path(__file__).resolve().parent.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rate = BUNDLED["defaults"]["rate_limit"]
    hooks = BUNDLED["webhooks"]
    schedule = ", ".join(f"{s:g}" for s in hooks["retry_schedule"])
    assert f"{rate['rate']:g} a second, burst {rate['burst']:g}" in table
    assert f"attempts at {schedule} s, {hooks['timeout_s']:g} s each" in table


def test_no_module_of_the_simulator_states_the_seeds_numbers() -> None:
    schedule = ", ".join(f"{s:g}" for s in BUNDLED["webhooks"]["retry_schedule"])
    rate = BUNDLED["defaults"]["rate_limit"]
    stated = [f"[{schedule}]", f'"rate": {rate["rate"]:g}, "burst": {rate["burst"]:g}']
    simulator = Path(__file__).resolve().parent.parent / "simulator"
    found = [
        f"{path.name}: {text}"
        for path in simulator.rglob("*.py")
        for text in stated
        if text in path.read_text(encoding="utf-8")
    ]
    assert found == []
