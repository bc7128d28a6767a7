"""The desk's live feed: what happened to cases since a cursor, and a signal that wakes waiting
readers when something did.

The change log is ``case_events`` itself — every report, workflow step, escalation and linked
duplicate is an event with a growing id — so a reader's cursor is the last event id it saw (the
Server-Sent Events ``id``; a browser reconnecting sends it back as ``Last-Event-ID`` and misses
nothing). A statement trigger on ``case_events`` sends ``NOTIFY gridmap_cases`` (migration
0013); the process's one LISTEN connection (layers/storage/listener.py) calls
:meth:`ChangeSignal.notify`, which wakes every reader of this process at once, whatever wrote
the event (this process, another one, the escalator, the CLI).
"""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.cases import workflow
from layers.clock import CHINA
from layers.storage.models import CaseStatus

CHANNEL = "gridmap_cases"
BATCH = 200  # events per read: a reader far behind catches up in steps, never in one answer


class ChangeSignal:
    """Wakes asyncio readers (any event loop) when told from any thread. ``generation`` counts
    the notifications: a reader that saw generation g and waits for a change returns at once if
    one came in between, so a notification between its read and its wait is never lost."""

    def __init__(self) -> None:
        self.generation = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        """Called by the listening thread on every NOTIFY (and after it reconnects): quick."""
        with self._lock:
            self.generation += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, seen: int, timeout: float) -> int:
        """The generation once it differs from ``seen``, or after ``timeout`` seconds."""
        loop, event = asyncio.get_running_loop(), asyncio.Event()
        with self._lock:
            if self.generation != seen:
                return self.generation
            self._waiters.add((loop, event))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard((loop, event))
        return self.generation


def latest(session: Session) -> int:
    """The newest event's id: a new reader starts here (what came before is in the queue)."""
    return int(session.execute(text("SELECT coalesce(max(id), 0) FROM case_events")).scalar_one())


GAP_WAIT_S = 10.0  # how long a hole in the ids may be a transaction still committing


class Cursor:
    """Where one reader stands. Event ids come from a sequence, so a transaction that took id
    100 may commit after the one that took 101: a reader that saw 101 must still look for 100.
    Every id up to ``settled`` was read; ids above it already read are remembered, and a hole
    below them is waited for (``GAP_WAIT_S``: after that it was a rollback) — so no event is
    missed and none is sent twice. ``settled`` is the SSE id: a reconnecting browser resumes
    there (and may get the few events above it again: the events carry their own ids)."""

    def __init__(self, settled: int, clock=time.monotonic) -> None:
        self.settled = settled
        self.seen: set[int] = set()
        self._clock = clock
        self._hole_since: float | None = None
        self.more = False  # the last read was a full batch: read again before waiting

    def read(self, session: Session, *, scope: str | None) -> list[dict]:
        """The events not yet read, of cases inside ``scope``, oldest first."""
        rows = session.execute(text("""
            SELECT e.id, e.at, e.actor, e.action, c.id AS case_id, c.case_no,
                   c.status::text AS status, c.grid_code, c.category_code, c.escalation_level,
                   c.duplicate_of,
                   (CAST(:scope AS text) IS NULL OR c.grid_code LIKE :scope || '%') AS mine
            FROM case_events e JOIN cases c ON c.id = e.case_id
            WHERE e.id > :settled ORDER BY e.id LIMIT :limit"""),
            {"settled": self.settled, "scope": scope, "limit": BATCH}).all()
        new = [r for r in rows if r.id not in self.seen]
        self.more = len(rows) == BATCH and bool(new)
        self.seen.update(r.id for r in new)
        self._settle()
        return [_event(r) for r in new if r.mine]

    def _settle(self) -> None:
        while self.settled + 1 in self.seen:
            self.settled += 1
            self.seen.discard(self.settled)
        if not self.seen:
            self._hole_since = None
            return
        now = self._clock()
        if self._hole_since is None:
            self._hole_since = now
        elif now - self._hole_since >= GAP_WAIT_S:  # a rolled-back id: step over the hole
            self.settled = min(self.seen) - 1
            self._hole_since = None
            self._settle()


def _event(r) -> dict:
    return {"event": r.id, "at": r.at.astimezone(CHINA).isoformat(timespec="seconds"),
            "actor": r.actor, "action": r.action,
            "action_zh": workflow.EVENT_ZH.get(r.action, r.action),
            "case": {"id": r.case_id, "case_no": r.case_no, "status": r.status,
                     "status_zh": workflow.STATUS_ZH[CaseStatus(r.status)],
                     "grid_code": r.grid_code, "category_code": r.category_code,
                     "escalation_level": r.escalation_level, "duplicate_of": r.duplicate_of}}
