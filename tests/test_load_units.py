"""The load profiles' pure parts: named shapes and the threshold judge (Locust only in a child)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.shapes import SHAPES, make_shape, parse_params
from loadtests.thresholds import (
    broken,
    evaluate,
    format_table,
    load_thresholds,
    needed,
    passed,
    unmeasured,
)

OBSERVED = {
    "requests": 200,
    "failures": 2,
    "rps": 20.0,
    "duration_s": 10.0,
    "apis": ["freefin"],
    "idempotency_by_kind": {
        "freefin payment": {"replays": 6, "races": 5, "duplicates": 0},
        "freefin payout": {"replays": 4, "races": 1, "duplicates": 0},
    },
    "operations": {
        "POST freefin /payments": {
            "requests": 50,
            "failures": 0,
            "p50": 5,
            "p90": 9,
            "p95": 12,
            "p99": 40,
        },
        "GET freefin /banks/sbp": {
            "requests": 3,
            "failures": 0,
            "p50": 20,
            "p90": 30,
            "p95": 30,
            "p99": 30,
        },
        "GET freefin /payments/{id}": {
            "requests": 150,
            "failures": 1,
            "p50": 2,
            "p90": 3,
            "p95": 4,
            "p99": 9,
        },
    },
}


def test_every_shape_starts_and_ends() -> None:
    for name in SHAPES:
        shape = make_shape(name)
        first = shape.tick(0.0)
        assert first is not None and first[0] > 0 and first[1] > 0, name
        assert shape.tick(shape.duration) is None, name
        assert shape.tick(shape.duration - 0.5) is not None, name


def test_shape_parameters_override_defaults() -> None:
    smoke = make_shape("smoke", parse_params(["users=3,duration=2", "spawn_rate=1.5"]))
    assert smoke.tick(1.9) == (3, 1.5)
    assert smoke.tick(2.0) is None
    step = make_shape("step", {"step_users": 5, "step_time": 10, "steps": 3})
    assert [step.tick(t) for t in (0, 10, 25)] == [(5, 10.0), (10, 10.0), (15, 10.0)]
    assert step.tick(30) is None
    spike = make_shape("spike", {"base_time": 2, "spike_time": 1, "recover_time": 2})
    assert [u for u, _ in filter(None, (spike.tick(t) for t in (0, 2.5, 4)))] == [10, 60, 10]


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("tsunami", {}, "unknown shape"),
        ("ramp", {"duration": 5}, "no parameter 'duration'"),
        ("smoke", {"users": "many"}, "not a number"),
        ("soak", {"users": -1}, "must not be negative"),
    ],
)
def test_bad_shapes_are_refused(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_shape(name, params)


def test_thresholds_hold_and_break() -> None:
    loose = {
        "error_rate": 0.01,
        "min_rps": 10,
        "max_duplicates": 0,
        "latency_ms": {"*": {"p95": 50, "p99": 100}},
    }
    assert broken(evaluate(loose, OBSERVED)) == []
    tight = {
        "error_rate": 0.005,
        "min_rps": 30,
        "max_duplicates": 0,
        "latency_ms": {"*": {"p99": 100}, "POST freefin /payments": {"p95": 10}},
    }
    assert sorted(c.what for c in broken(evaluate(tight, OBSERVED))) == [
        "POST freefin /payments p95",
        "error rate",
        "throughput (req/s)",
    ]
    dups = {"freefin payment": {"replays": 1, "races": 0, "duplicates": 2}}
    dup = evaluate({"max_duplicates": 0}, {**OBSERVED, "idempotency_by_kind": dups})
    # a duplicate seen breaks the threshold however few the replays
    assert [c.what for c in broken(dup)] == ["duplicates created, freefin (1 replays, 0 races)"]


def test_samples_needed_per_kind_of_threshold() -> None:
    assert [needed(p) for p in ("p50", "p90", "p95", "p99")] == [2, 10, 20, 100]
    assert needed("error_rate", 0.01) == 100 and needed("error_rate", 0.005) == 200
    assert needed("error_rate", 0) == 100
    assert needed("min_rps") == 5 and needed("replays") == 5 and needed("races") == 5


def test_a_threshold_on_too_few_samples_is_not_measured_and_the_run_does_not_pass() -> None:
    """The duplicate counter with no replays, a p99 of 50 requests, an error rate of 1 % on
    80 requests, a throughput over 3 s: each is not measured, never held."""
    none = {"freefin payment": {"replays": 0, "races": 0, "duplicates": 0}}
    thin = {
        **OBSERVED,
        "requests": 80,
        "failures": 0,
        "duration_s": 3.0,
        "idempotency_by_kind": none,
    }
    spec = {
        "error_rate": 0.01,
        "min_rps": 1,
        "max_duplicates": 0,
        "latency_ms": {"POST freefin /payments": {"p99": 100, "p90": 100}},
    }
    checks = evaluate(spec, thin)
    assert [(c.what, c.held) for c in checks if c.held is not None] == [
        ("POST freefin /payments p90", True)
    ]
    assert sorted(c.what for c in unmeasured(checks)) == [
        "POST freefin /payments p99",
        "duplicates created, freefin (0 replays, 0 races)",
        "error rate",
        "throughput (req/s)",
    ]
    assert not broken(checks) and not passed(checks)
    table = format_table(checks)
    assert "NOT MEASURED" in table and "held" in table and "0 of 5" in table
    assert "too few: 50 requests, needs 100" in table
    # failures beyond what the limit allows on the least sample break it however few were made
    failing = evaluate({"error_rate": 0.01}, {"requests": 15, "failures": 2})
    assert [(c.what, c.held) for c in failing] == [("error rate", False)]
    one = evaluate({"error_rate": 0.01}, {"requests": 15, "failures": 1})
    assert [c.held for c in one] == [None]
    # races count apart from replays: enough replays and no race is not measured either
    replays_only = {"freefin payment": {"replays": 9, "races": 0, "duplicates": 0}}
    only = evaluate({"max_duplicates": 0}, {**OBSERVED, "idempotency_by_kind": replays_only})
    assert [c.observed for c in unmeasured(only)] == ["0; too few: 0 races, needs 5"]


def test_rare_operations_under_the_catch_all_are_shown_not_gating() -> None:
    checks = evaluate({"latency_ms": {"*": {"p95": 500}}}, OBSERVED)
    rare = next(c for c in checks if c.what == "GET freefin /banks/sbp p95")
    assert rare.held is None and not rare.gating and rare.samples == 3
    assert passed(checks)
    assert "not measured (not gating)" in format_table(checks)


def test_another_apis_operations_are_not_part_of_the_run() -> None:
    checks = evaluate({"latency_ms": {"POST kaspi /v1/invoices": {"p95": 10}}}, OBSERVED)
    kaspi = [c for c in checks if c.what.startswith("POST kaspi")]
    assert [(c.observed, c.held, c.gating) for c in kaspi] == [("API not in this run", None, False)]
    both = evaluate(
        {"latency_ms": {"POST kaspi /v1/invoices": {"p95": 10}}},
        {**OBSERVED, "apis": ["freefin", "kaspi"]},
    )
    assert [c.what for c in unmeasured(both)] == ["POST kaspi /v1/invoices p95"]


def test_a_run_without_requests_fails() -> None:
    assert broken(evaluate({}, {"requests": 0}))


def test_bundled_thresholds_load_for_every_profile(tmp_path: Path) -> None:
    for name in SHAPES:
        assert "error_rate" in load_thresholds(name)
    bad = tmp_path / "t.yaml"
    bad.write_text("smoke: {error_rate: 0.1, p99: 5}\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_thresholds("smoke", bad)
    with pytest.raises(ValueError, match="no thresholds for profile"):
        load_thresholds("ramp", bad)


@pytest.mark.parametrize(
    "name",
    ["POST /payments", "post freefin /payments", "freefin /payments", "POST stripe /charges"],
)
def test_an_operation_name_that_can_never_be_measured_is_refused(tmp_path: Path, name: str) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text(f'smoke: {{latency_ms: {{"{name}": {{p99: 100}}}}}}\n')
    with pytest.raises(ValueError, match="is no operation name"):
        load_thresholds("smoke", bad)


def test_every_shape_is_a_load_test_shape_class_and_headless_takes_the_dispatcher() -> None:
    # Locust patches the standard library when imported: look at the locustfile in a child.
    code = (
        "from locust.util.load_locustfile import load_locustfile\n"
        "_, shapes = load_locustfile('loadtests/locustfile.py')\n"
        "print(' '.join(type(s).__name__ + ':' + str(s.shape_name) for s in shapes))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = done.stdout.split()
    assert found[0] == "ProfileShape:None"  # the first shape is the one a headless run uses
    assert sorted(found[1:]) == sorted(f"{n.title()}Shape:{n}" for n in SHAPES)
