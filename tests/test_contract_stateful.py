"""The stateful run's guard against Hypothesis replays a live target's state made diverge."""

from __future__ import annotations

from collections.abc import Callable

import hypothesis
import pytest

from harness.contract.stateful import run_retrying_replays


def flaky_times(n: int) -> tuple[list[int], Callable[[], None]]:
    calls: list[int] = []

    def run() -> None:
        calls.append(1)
        if len(calls) <= n:
            raise hypothesis.errors.FlakyStrategyDefinition("Inconsistent data generation!")

    return calls, run


def test_a_diverged_replay_starts_the_run_again(capsys: pytest.CaptureFixture[str]) -> None:
    calls, run = flaky_times(1)
    assert run_retrying_replays(run, attempts=3) == 2
    assert len(calls) == 2 and "restarted (1/3)" in capsys.readouterr().err


def test_a_replay_that_keeps_diverging_fails_the_run() -> None:
    calls, run = flaky_times(5)
    with pytest.raises(hypothesis.errors.FlakyStrategyDefinition):
        run_retrying_replays(run, attempts=3)
    assert len(calls) == 3


def test_a_failure_of_the_target_is_not_retried() -> None:
    calls: list[int] = []

    def run() -> None:
        calls.append(1)
        raise AssertionError("1 failed checks in the stateful run")

    with pytest.raises(AssertionError):
        run_retrying_replays(run)
    assert len(calls) == 1
