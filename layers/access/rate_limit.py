"""Rate limits for public endpoints (the residents' lookup): a token bucket per client, in memory
(one process) or shared by every process through PostgreSQL (what the API uses); and the
throttle of failed sign-ins and bad tokens (:class:`FailureThrottle`), on the same buckets."""

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

    _PEEK = text("SELECT LEAST(:capacity, tokens + EXTRACT(EPOCH FROM clock_timestamp() "
                 "- updated_at) * :rate) FROM rate_buckets WHERE key = :key")

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

    def peek(self, client: str) -> float:
        """The seconds the client must wait before its next request, without spending any."""
        try:
            with self.engine.connect() as conn:
                refill = conn.execute(self._PEEK, {"key": f"{self.name}:{client}"[:120],
                                                   "capacity": self.capacity,
                                                   "rate": self.rate}).scalar()
        except OperationalError:
            return 0.0  # the database is away: nothing is known of the client's allowance
        return 0.0 if refill is None or refill >= 1 else (1 - float(refill)) / self.rate

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


class FailureThrottle:
    """Failed sign-ins and unknown tokens, per client: ``per_minute`` failures are answered as
    usual (a 401, the form again); beyond that the client gets 429 with Retry-After until its
    allowance refills. Only failures spend it, so a busy office behind one address signs in
    freely. The count is shared by every process (``rate_buckets``); a process that refused a
    client remembers it until the refill, so a flood of guesses costs no database work."""

    def __init__(self, engine: Engine, per_minute: int):
        self.bucket = SharedRateLimiter(engine, per_minute, name="auth")
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Before an attempt: refuse (RateLimited) a client this process saw over its allowance,
        or whose shared allowance is spent."""
        with self._lock:
            until = self._until.get(client, 0.0)
        wait = max(until - time.monotonic(), self.bucket.peek(client))
        if wait > 0:
            _refuse(wait, zh="登录失败次数过多，请稍后再试")

    def failed(self, client: str) -> None:
        """After a failure: spend one of the client's allowance; RateLimited once it is spent."""
        wait = self.bucket.check(client)
        if wait:
            with self._lock:
                if len(self._until) > 10_000:  # forget clients whose wait is over
                    now = time.monotonic()
                    self._until = {k: v for k, v in self._until.items() if v > now}
                self._until[client] = time.monotonic() + wait
            _refuse(wait, zh="身份凭证错误次数过多，请稍后再试")


def _refuse(wait: float, *, zh: str) -> None:
    seconds = math.ceil(wait)
    raise RateLimited(f"too many failed sign-ins or unknown tokens from your address; try again "
                      f"in {seconds} s", zh=zh, headers={"Retry-After": str(seconds)})
