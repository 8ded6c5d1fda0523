"""The load profiles' pure parts: named shapes and the threshold judge (Locust only in a child)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.shapes import SHAPES, make_shape, parse_params
from loadtests.thresholds import broken, evaluate, format_table, load_thresholds

OBSERVED = {
    "requests": 200,
    "failures": 1,
    "rps": 20.0,
    "replays": 10,
    "duplicates": 0,
    "operations": {
        "POST freefin /payments": {
            "requests": 50,
            "failures": 0,
            "p50": 5,
            "p90": 9,
            "p95": 12,
            "p99": 40,
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
        "error_rate": 0.001,
        "min_rps": 30,
        "max_duplicates": 0,
        "latency_ms": {"*": {"p99": 100}, "POST freefin /payments": {"p95": 10}},
    }
    assert sorted(c.what for c in broken(evaluate(tight, OBSERVED))) == [
        "POST freefin /payments p95",
        "error rate",
        "throughput (req/s)",
    ]
    dup = evaluate({"max_duplicates": 0}, {**OBSERVED, "duplicates": 2})
    assert [c.what for c in broken(dup)] == ["duplicates created (10 replays)"]


def test_unmeasured_operations_are_shown_not_failed() -> None:
    checks = evaluate({"latency_ms": {"POST kaspi /v1/invoices": {"p95": 10}}}, OBSERVED)
    kaspi = [c for c in checks if c.what.startswith("POST kaspi")]
    assert [(c.observed, c.held) for c in kaspi] == [("no requests", None)]
    assert "not measured" in format_table(checks)


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
