"""The working calendar knows China's statutory holidays and make-up days from the first start:
a case reported before 国庆 does not run its clock through the holiday."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from layers.cases.working_calendar import (
    CHINA,
    add_working_hours,
    holiday_calendar,
    remove_day,
    seed_statutory,
)
from layers.storage.db import session_scope
from layers.storage.models import Holiday


def test_a_fresh_install_knows_national_day_and_its_make_up_days(db_url, engine):
    with TestClient(create_app(url=db_url)):
        pass
    with session_scope(engine) as session:
        days = {h.day: (h.is_workday, h.name) for h in session.scalars(select(Holiday))}
    assert days[dt.date(2026, 10, 1)] == (False, "国庆节")
    assert days[dt.date(2026, 10, 10)] == (True, "国庆节调休")  # a Saturday worked
    assert days[dt.date(2026, 2, 17)][0] is False  # 春节


def test_a_case_reported_before_national_day_runs_its_clock_past_it(engine):
    with session_scope(engine) as session:
        seed_statutory(session)
        calendar = holiday_calendar(session)
    reported = dt.datetime(2026, 9, 30, 16, 0, tzinfo=CHINA)
    deadline = add_working_hours(reported, 8, calendar)
    assert deadline.date() == dt.date(2026, 10, 8)  # not 10-01: the week of 国庆 is off
    assert add_working_hours(reported, 8, {}).date() == dt.date(2026, 10, 1)


def test_a_year_someone_edited_is_not_seeded_again(engine):
    with session_scope(engine) as session:
        assert 2026 in seed_statutory(session)
        remove_day(session, dt.date(2026, 10, 7))  # a local decision: the 7th is worked
        assert seed_statutory(session) == []
        assert dt.date(2026, 10, 7) not in holiday_calendar(session)


def test_processes_starting_together_seed_the_calendar_once(engine):
    """`gridmap serve --workers 2` on a new database: both workers seed at start; one used to
    fail its start on a duplicate day (the connection reset GDAL saw)."""
    import threading

    barrier, errors, seeded = threading.Barrier(4), [], []

    def start() -> None:
        try:
            barrier.wait()
            with session_scope(engine) as session:
                seeded.append(seed_statutory(session))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(1 for years in seeded if years) == 1  # one of them seeded, the others found it
    with session_scope(engine) as session:
        days = session.scalars(select(Holiday.day)).all()
    assert len(days) == len(set(days))
