"""Rate limits for public endpoints (the residents' lookup): a token bucket per client."""

from __future__ import annotations

import math
import threading
import time

from layers.errors import DomainError


class RateLimited(DomainError):
    code = "rate_limited"


class RateLimiter:
    """A token bucket per client address: ``per_minute`` requests, bursts up to that many."""

    def __init__(self, per_minute: int):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                if len(self._buckets) > 100_000:  # forget idle clients
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate

    def take(self, client: str) -> None:
        """Spend one request of the client's allowance, or raise RateLimited."""
        wait = self.check(client)
        if wait:
            seconds = math.ceil(wait)
            raise RateLimited(f"too many requests; try again in {seconds} s",
                              zh="查询过于频繁，请稍后再试", headers={"Retry-After": str(seconds)})
