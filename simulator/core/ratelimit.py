"""Per-merchant token buckets. Real (monotonic) time: rate limits are about real traffic."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()
        # Processes serving one store: each keeps its own buckets with 1/share of the rate
        # and burst, so together they allow what one process would.
        self.share = 1

    def configure(self, name: str, rate: float, burst: float) -> None:
        rate, burst = rate / self.share, max(1.0, burst / self.share)
        with self._lock:
            self._buckets[name] = Bucket(rate, burst, burst, self._monotonic())

    def reset(self) -> None:
        with self._lock:
            for bucket in self._buckets.values():
                bucket.tokens, bucket.stamp = bucket.burst, self._monotonic()

    def take(self, name: str) -> int:
        """0 when the request may go on, else the whole seconds to wait (Retry-After)."""
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                return 0
            now = self._monotonic()
            bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.stamp) * bucket.rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / bucket.rate))
