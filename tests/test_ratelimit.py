"""Token buckets per merchant, on an injected monotonic clock: a burst, then the rate."""

from __future__ import annotations

from simulator.core.ratelimit import RateLimiter


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_request_per_token_earned() -> None:
    ticks = Ticks()
    limiter = RateLimiter(ticks)
    limiter.configure("m", rate=2.0, burst=3.0)
    assert [limiter.take("m") for _ in range(4)] == [0, 0, 0, 1]  # the fourth waits 1 s
    ticks.now += 0.5  # one token at 2 a second
    assert [limiter.take("m"), limiter.take("m")] == [0, 1]
    ticks.now += 60  # never more than the burst
    assert [limiter.take("m") for _ in range(4)] == [0, 0, 0, 1]


def test_the_wait_is_the_whole_seconds_to_the_next_token() -> None:
    ticks = Ticks()
    limiter = RateLimiter(ticks)
    limiter.configure("slow", rate=0.25, burst=1.0)
    assert [limiter.take("slow"), limiter.take("slow")] == [0, 4]


def test_processes_sharing_a_store_each_keep_their_share() -> None:
    limiter = RateLimiter(Ticks())
    limiter.share = 2
    limiter.configure("m", rate=10.0, burst=4.0)
    assert [limiter.take("m") for _ in range(3)] == [0, 0, 1]


def test_a_reset_fills_every_bucket_and_the_unknown_are_not_limited() -> None:
    limiter = RateLimiter(Ticks())
    limiter.configure("m", rate=1.0, burst=1.0)
    assert [limiter.take("m"), limiter.take("m")] == [0, 1]
    limiter.reset()
    assert limiter.take("m") == 0
    assert all(limiter.take("nobody") == 0 for _ in range(100))
