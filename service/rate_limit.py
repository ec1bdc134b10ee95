"""An in-memory token bucket per key (IP address, email address) for the "send me a new link" page.

Kept in the service process: a restart forgets it, which only lets a few more requests through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """``capacity`` requests at once, refilled at ``capacity`` per ``period`` seconds."""

    def __init__(
        self, capacity: int, period: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / period
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely: they hold nothing a new bucket would not."""
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


class LinkRequestLimiter:
    """Both limits must allow a request: per client address and per email address typed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_ip = TokenBucket(capacity=10, period=3600, clock=clock)
        self.per_email = TokenBucket(capacity=3, period=3600, clock=clock)

    def allow(self, ip: str, email: str) -> bool:
        ip_ok = self.per_ip.allow(ip)
        return self.per_email.allow(email) and ip_ok
