"""The one clock: what time it is and what day it is, for the whole of gridmap.

The district keeps Beijing time (Asia/Shanghai, UTC+8, no daylight saving). A date — a case
number's day, the day a generation takes effect, "this month's" care visits, "today's" tasks — is
the date in China, never the host's date and never UTC's: between 00:00 and 08:00 Beijing time
UTC is still on the day before. Every moment is an aware ``datetime``; a time written without a
zone (a CLI option, an uploaded file) is Beijing wall time, as people write it.

Nothing else reads the host's clock for a date or a time of day. Tests move time by replacing
:data:`source` (``monkeypatch.setattr(clock, "source", lambda: instant)``); the API's
``app.state.clock`` is :func:`now` unless a test replaces it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

# where "now" comes from: the system's clock as an aware UTC instant (tests replace it)
source: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731


def now() -> dt.datetime:
    """This instant, aware, in Beijing time."""
    return source().astimezone(CHINA)


def today() -> dt.date:
    """Today's date in China."""
    return now().date()


def local(moment: dt.datetime) -> dt.datetime:
    """A moment in Beijing time; a naive one is taken as Beijing wall time."""
    return moment.replace(tzinfo=CHINA) if moment.tzinfo is None else moment.astimezone(CHINA)


def day_of(moment: dt.datetime) -> dt.date:
    """The date in China of an aware moment (a naive one is Beijing wall time)."""
    return local(moment).date()


def start_of(day: dt.date) -> dt.datetime:
    """Midnight at the start of a day in China, aware."""
    return dt.datetime.combine(day, dt.time(0), CHINA)
