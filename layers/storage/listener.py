"""Hearing the database: every API process keeps one LISTEN connection to the primary, one
``ChangeListener`` that the app owns and each concern subscribes to — the credential cache
(and the pages' sessions cached in it) drops what it holds on ``gridmap_users``, the desk's feed
wakes on ``gridmap_cases``, the locator registry rebuilds on the boundary and data channels.
None of them owns the connection.

Two threads, apart on purpose. One LISTENs and acts on each notification at once: it calls the
callbacks watching that channel and, for the channels of the (slow) rebuild, asks the other
thread for one. The other rebuilds, coalescing a burst of notifications into one — a rebuild
takes seconds on a large district, and nothing that must act at once waits for it (a token
disabled during a rebuild is refused in milliseconds, not after it).

A notification sent while the connection was down is lost, so after every (re)connection the
watchers are told (what they keep may be stale, even from the start-up moments) and, after a
loss, a rebuild is asked for. The database going away under a rebuild leaves the old locator
answering; the rebuild is tried again once the database is back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# What the locator, its gazetteer and the maps are built from changed (an import, a published
# plan, a gazetteer edit, the register's organisations): every API process rebuilds.
DATA_CHANNEL = "gridmap_data"


def data_changed(session: Session, what: str) -> None:
    """NOTIFY ``gridmap_data`` with what changed (a word, for the logs); PostgreSQL delivers it
    when the session's transaction commits, and never if it rolls back."""
    session.execute(text("SELECT pg_notify(:channel, :what)"), {"channel": DATA_CHANNEL, "what": what})


class ChangeListener:
    def __init__(self, primary: Engine):
        self.primary = primary  # where LISTEN goes (a replica carries no NOTIFY)
        self.channels: tuple[str, ...] = ()  # the notifications that call for ``rebuild``
        self.rebuild: Callable[[], None] | None = None
        # other channels the one LISTEN connection hears: channel → callables run on a
        # notification and after every (re)connection (what was missed is unknown)
        self.watchers: dict[str, list[Callable[[], None]]] = {}
        self.reconnects = 0  # times the LISTEN connection came back after a loss
        self._stop = threading.Event()
        self._wanted = threading.Event()  # a rebuild is asked for (a NOTIFY, a reconnect)
        self._listening = threading.Event()  # the LISTEN connection is up
        self._first_attempt = threading.Event()  # the listener has tried once (up or not)
        self.threads: list[threading.Thread] = []

    def watch(self, channel: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the listening thread: it must be quick) on every NOTIFY on
        ``channel`` — also one of the rebuild's channels: the callback runs at once, before the
        rebuild — and after every (re)connection. Watch before ``start``."""
        self.watchers.setdefault(channel, []).append(callback)

    def rebuild_on(self, channels: tuple[str, ...], rebuild: Callable[[], None]) -> None:
        """Run ``rebuild`` (slow: in the rebuild thread, a burst coalesced into one) on every
        NOTIFY on ``channels``, after a lost connection comes back and when ``ask``ed. One
        subscriber: the locator registry. Subscribe before ``start``."""
        self.channels, self.rebuild = channels, rebuild

    @property
    def listening(self) -> bool:
        """True while the LISTEN connection is up (changes made elsewhere are heard)."""
        return self._listening.is_set()

    @property
    def alive(self) -> bool:
        return bool(self.threads) and all(t.is_alive() for t in self.threads)

    def start(self) -> None:
        if self.threads:
            return
        self.threads = [threading.Thread(target=self._listen, name="gridmap-notify", daemon=True),
                        threading.Thread(target=self._rebuild_when_told, name="gridmap-rebuild",
                                         daemon=True)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def ask(self) -> None:
        """Ask the rebuild thread for a rebuild (as a notification would)."""
        self._wanted.set()

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait for the first attempt to connect; True if LISTENing. A process that serves only
        after this cannot have cached something whose change it did not hear."""
        self._first_attempt.wait(timeout)
        return self.listening

    def _tell(self, channels) -> None:
        for channel in channels:
            for callback in self.watchers.get(channel, ()):
                try:
                    callback()
                except Exception:
                    log.exception("callback for NOTIFY %s failed", channel)

    def _listen(self) -> None:
        dsn = make_url(self.primary.url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        reconnecting = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    for channel in dict.fromkeys((*self.channels, *self.watchers)):
                        conn.execute(f"LISTEN {channel}")
                    self._tell(list(self.watchers))
                    if reconnecting:
                        self.reconnects += 1
                        self._wanted.set()
                    reconnecting = True
                    self._listening.set()
                    self._first_attempt.set()
                    while not self._stop.is_set():
                        heard = {note.channel for note in conn.notifies(timeout=1.0, stop_after=1)}
                        self._tell(heard)
                        if heard & set(self.channels):
                            self._wanted.set()
            except psycopg.Error:
                self._listening.clear()
                self._first_attempt.set()
                log.warning("lost the database while listening; retrying in 2 s")
                self._stop.wait(2.0)

    def _rebuild_when_told(self) -> None:
        while not self._stop.is_set():
            if not self._wanted.wait(1.0):
                continue
            self._stop.wait(0.2)  # coalesce a burst of notifications into one rebuild
            self._wanted.clear()  # a notification from now on asks for one more rebuild
            if self.rebuild is None:
                continue
            try:
                self.rebuild()
            except (psycopg.OperationalError, DBAPIError):
                log.warning("lost the database while rebuilding; retrying in 2 s")
                self._wanted.set()
                self._stop.wait(2.0)
            except Exception:
                log.exception("rebuild failed; what was built before keeps answering")
