"""Working time: time limits are counted in working hours (08:30–12:00, 13:30–17:30 on working
days, China Standard Time), skipping weekends and public holidays and counting make-up days
(调休) that fall on weekends. Pure functions, except :func:`holiday_calendar`, which reads the
exceptions from the ``holidays`` table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from layers.clock import CHINA
from layers.storage.models import Holiday

PERIODS = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))


def is_workday(day: dt.date, exceptions: dict[dt.date, bool]) -> bool:
    if day in exceptions:
        return exceptions[day]
    return day.weekday() < 5


def add_working_hours(start: dt.datetime, hours: float, exceptions: dict[dt.date, bool]) -> dt.datetime:
    """The moment ``hours`` working hours after ``start`` (an aware datetime)."""
    remaining = dt.timedelta(hours=hours)
    local = start.astimezone(CHINA)
    day = local.date()
    for _ in range(3660):  # ten years of days at most
        if is_workday(day, exceptions):
            for begin, end in PERIODS:
                p0 = dt.datetime.combine(day, begin, CHINA)
                p1 = dt.datetime.combine(day, end, CHINA)
                if local >= p1:
                    continue
                cursor = max(local, p0)
                available = p1 - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(dt.UTC)
                remaining -= available
                local = p1
        day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0), CHINA)
    raise ValueError("time limit too long for the working calendar")


def working_hours_between(a: dt.datetime, b: dt.datetime, exceptions: dict[dt.date, bool]) -> float:
    """Working hours from ``a`` to ``b`` (0 if b ≤ a)."""
    if b <= a:
        return 0.0
    total = dt.timedelta()
    la, lb = a.astimezone(CHINA), b.astimezone(CHINA)
    day = la.date()
    while day <= lb.date():
        if is_workday(day, exceptions):
            for begin, end in PERIODS:
                p0 = max(dt.datetime.combine(day, begin, CHINA), la)
                p1 = min(dt.datetime.combine(day, end, CHINA), lb)
                if p1 > p0:
                    total += p1 - p0
        day += dt.timedelta(days=1)
    return total.total_seconds() / 3600


def holiday_calendar(session: Session) -> dict[dt.date, bool]:
    """The calendar's exceptions: day → is it a working day (public holidays, make-up days)."""
    return {h.day: h.is_workday for h in session.scalars(select(Holiday))}


def set_day(session: Session, day: dt.date, *, workday: bool, name: str | None) -> None:
    """Mark a day a holiday (or, with ``workday``, a make-up working day)."""
    existing = session.get(Holiday, day)
    if existing is None:
        session.add(Holiday(day=day, is_workday=workday, name=name))
    else:
        existing.is_workday, existing.name = workday, name


def remove_day(session: Session, day: dt.date) -> None:
    existing = session.get(Holiday, day)
    if existing is not None:
        session.delete(existing)


def statutory_days() -> dict[dt.date, tuple[bool, str]]:
    """China's statutory holidays and make-up working days (调休) as the State Council publishes
    them each year, from the maintained ``chinesecalendar`` package: day → (working day?, name)."""
    from chinese_calendar import constants

    names = {h.value: h.chinese for h in constants.Holiday}
    days = {d: (False, names.get(v, v)) for d, v in constants.holidays.items()}
    days |= {d: (True, f"{names.get(v, v)}调休") for d, v in constants.workdays.items()}
    return days


def seed_statutory(session: Session) -> list[int]:
    """Add the statutory calendar for every year the calendar has no entry in yet, and return
    those years. A year someone has edited is left alone: a removed or changed day stays so.
    API processes starting together (``--workers 2`` on a new database) seed one after the
    other: a transaction lock makes the second see the first's years (it used to fail its
    start on a duplicate day)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridmap.seed_statutory'))"))
    have = {y for (y,) in session.execute(
        select(func.extract("year", Holiday.day)).distinct()).all()}
    days = statutory_days()
    years = sorted({d.year for d in days} - {int(y) for y in have})
    for day, (workday, name) in days.items():
        if day.year in years:
            session.add(Holiday(day=day, is_workday=workday, name=name[:100]))
    session.flush()
    return years


def last_statutory_year() -> int:
    """The last year the statutory calendar is known for (later deadlines count weekends only)."""
    return max(d.year for d in statutory_days())
