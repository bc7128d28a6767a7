"""Credentials held in memory by an API process, so a request with a token costs no database
round trip (two, with the pool's ping: ~2 ms of a 5 ms OGC page before).

Safe because it is told: every change to the users table sends ``NOTIFY gridmap_users``
(a statement trigger, migration 0009 — changes made by hand in SQL included), the process's
listener clears the cache on it and after it reconnects (a change while it was away), and an
entry older than ``ttl`` seconds is read again anyway. What the cache keeps is checked at every
use: a token that expires is refused at its expiry instant, not at the next refresh. Unknown
tokens are never cached (nobody fills the memory with guesses), and at most ``size`` tokens are.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from layers.access.users import hash_token
from layers.storage.models import User

NOTIFY_CHANNEL = "gridmap_users"


@dataclass(frozen=True)
class Credential:
    """What a request needs of a user, detached from any session."""

    name: str
    role: object
    scope_code: str | None
    worker_code: str | None
    department: str | None
    disabled: bool
    expires_at: dt.datetime | None

    @classmethod
    def of(cls, user: User) -> Credential:
        return cls(user.name, user.role, user.scope_code, user.worker_code, user.department,
                   user.disabled_at is not None, user.expires_at)

    def valid(self, now: dt.datetime) -> bool:
        return not self.disabled and (self.expires_at is None or self.expires_at > now)


class CredentialCache:
    def __init__(self, ttl: float = 60.0, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[str, tuple[float, Credential]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.clears = 0

    def peek(self, token: str, now: dt.datetime) -> tuple[bool, Credential | None]:
        """(known here, its credential if valid now) — memory only, for the event loop."""
        key = hash_token(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry[0] >= self.ttl:
                return False, None
            self._entries.move_to_end(key)
            self.hits += 1
            return True, (entry[1] if entry[1].valid(now) else None)

    def lookup(self, token: str, now: dt.datetime,
               load: Callable[[str], Credential | None]) -> Credential | None:
        """The credential of a valid token (from memory, else ``load``), or None. A page's
        session is kept the same way, under ``sessions.cache_key(id)``."""
        known, credential = self.peek(token, now)
        if known:
            return credential
        self.misses += 1
        key = hash_token(token)
        read_at, cleared = time.monotonic(), self.clears
        credential = load(token)
        if credential is None:
            return None
        with self._lock:
            if self.clears != cleared:  # the table changed while we read: use it, keep it not
                return credential if credential.valid(now) else None
            self._entries[key] = (read_at, credential)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return credential if credential.valid(now) else None

    def clear(self) -> None:
        """Forget every credential (the users table changed)."""
        with self._lock:
            self._entries.clear()
            self.clears += 1
