"""Per-merchant token-bucket rate limiting of the foreign freefin server."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Token buckets keyed by merchant id; each call to ``allow`` spends one token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, rate: float, burst: int) -> bool:
        """Spend a token of ``key``'s bucket; return False when the bucket is empty."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - stamp) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            return allowed
