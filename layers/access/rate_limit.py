"""Rate limits for public endpoints (the residents' lookup): a token bucket per client, in memory
(one process) or shared by every process through PostgreSQL (what the API uses)."""

from __future__ import annotations

import math
import threading
import time

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

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
        _take(self, client)


def _take(limiter, client: str) -> None:
    """Spend one request of the client's allowance, or raise RateLimited (429, Retry-After)."""
    wait = limiter.check(client)
    if wait:
        seconds = math.ceil(wait)
        raise RateLimited(f"too many requests; try again in {seconds} s",
                          zh="查询过于频繁，请稍后再试", headers={"Retry-After": str(seconds)})


class SharedRateLimiter:
    """The same token bucket, kept in PostgreSQL (``rate_buckets``) so that every API process
    draws on one allowance per client: N processes do not make N × the limit. Two statements in
    one transaction (~0.5 ms on loopback); the row lock makes concurrent takes queue, not race."""

    _ENSURE = text("INSERT INTO rate_buckets (key, tokens, updated_at) "
                   "VALUES (:key, :capacity, clock_timestamp()) ON CONFLICT (key) DO NOTHING")
    _TAKE = text("""
        UPDATE rate_buckets b
        SET tokens = CASE WHEN r.refill >= 1 THEN r.refill - 1 ELSE r.refill END,
            updated_at = clock_timestamp()
        FROM (SELECT key, LEAST(:capacity, tokens + EXTRACT(EPOCH FROM clock_timestamp()
                                                             - updated_at) * :rate) AS refill
              FROM rate_buckets WHERE key = :key FOR UPDATE) r
        WHERE b.key = r.key
        RETURNING r.refill
    """)

    def __init__(self, engine: Engine, per_minute: int, *, name: str = "resident"):
        self.engine, self.name = engine, name
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._calls = 0
        # While the database is away the public lookup keeps answering from memory (it needs no
        # database itself), limited per process as before the shared bucket existed.
        self._fallback = RateLimiter(per_minute)

    def check(self, client: str) -> float:
        """0 if allowed, else the seconds to wait."""
        try:
            return self._check_shared(client)
        except OperationalError:
            return self._fallback.check(client)

    def _check_shared(self, client: str) -> float:
        params = {"key": f"{self.name}:{client}"[:120], "capacity": self.capacity,
                  "rate": self.rate}
        with self.engine.begin() as conn:
            conn.execute(self._ENSURE, params)
            refill = float(conn.execute(self._TAKE, params).scalar_one())
            self._calls += 1
            if self._calls % 1000 == 0:  # forget idle clients now and then
                conn.execute(text("DELETE FROM rate_buckets WHERE updated_at < clock_timestamp() "
                                  "- interval '10 minutes'"))
        return 0.0 if refill >= 1 else (1 - refill) / self.rate

    def take(self, client: str) -> None:
        _take(self, client)
