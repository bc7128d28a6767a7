"""One clock (layers/clock.py): dates in China are Asia/Shanghai's. Frozen at 01:00 Beijing time
— 17:00 UTC the day before, when the host's UTC date is still yesterday — every "today" gridmap
writes or answers is the Beijing date, and the demo's history ends at that moment."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from layers import clock
from layers.access import users
from layers.boundaries import generations
from layers.demo.case_history import load as load_history
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import small_city

ONE_AM = dt.datetime(2026, 11, 27, 1, 0, tzinfo=clock.CHINA)  # = 2026-11-26T17:00Z
TODAY = dt.date(2026, 11, 27)


@pytest.fixture(scope="module")
def city():
    return small_city()


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "source", lambda: ONE_AM.astimezone(dt.UTC))
    return ONE_AM


@pytest.fixture
def loaded(frozen, engine, city):
    assert write_validated(engine, city).ok
    return engine


def test_at_one_in_the_morning_in_beijing_today_is_beijing_s_date(frozen):
    assert clock.source().date() == dt.date(2026, 11, 26)  # UTC is still on yesterday
    assert clock.today() == TODAY
    assert clock.now() == ONE_AM and clock.now().utcoffset() == dt.timedelta(hours=8)


def test_a_time_written_without_a_zone_is_beijing_wall_time():
    assert clock.local(dt.datetime(2026, 11, 27, 1, 0)) == ONE_AM
    assert clock.day_of(dt.datetime(2026, 11, 26, 17, 0, tzinfo=dt.UTC)) == TODAY


def test_the_first_import_s_generation_takes_effect_on_the_beijing_date(loaded):
    with session_scope(loaded) as session:
        assert generations.active(session).effective_from == TODAY


def test_a_generation_published_without_a_date_takes_effect_on_the_beijing_date(loaded):
    with session_scope(loaded) as session:
        draft = generations.create_draft(session, "redraw", copy_from=generations.active(session))
        generations.publish(session, draft)
        assert draft.effective_from == TODAY and draft.status.value == "active"


def test_a_case_reported_at_one_in_the_morning_is_numbered_with_that_day(loaded, db_url, city,
                                                                         monkeypatch):
    monkeypatch.setenv("GRIDMAP_ESCALATION_INTERVAL_S", "0")
    with session_scope(loaded) as session:
        token = users.add(session, "night-shift", "worker", "370811")[1]
    grids = city.layers["areas"][city.layers["areas"].level == "grid"]
    point = grids.iloc[0].geometry.representative_point()
    with TestClient(create_app(url=db_url)) as client:
        case = client.post("/v1/cases", headers={"Authorization": f"Bearer {token}"}, json={
            "source": "patrol", "category": "E0101", "lon": point.x, "lat": point.y,
            "description": "夜间巡查"}).json()
        assert case["case_no"].startswith("RC20261127"), case["case_no"]
        assert client.get("/v1/generations").json()[0]["effective_from"] == TODAY.isoformat()


def test_the_demo_history_ends_now_and_nothing_in_it_is_in_the_future(loaded):
    assert load_history(loaded, scale=0.1) > 10_000
    with loaded.connect() as conn:
        latest = conn.execute(text("""SELECT greatest(max(created_at), max(registered_at),
            max(closed_at), max(updated_at), (SELECT max(at) FROM case_events)) FROM cases""")).scalar()
        open_cases = conn.scalar(text("SELECT count(*) FROM cases WHERE closed_at IS NULL"))
        numbered_today = conn.scalar(text("SELECT count(*) FROM cases WHERE case_no > 'RC20261127'"))
    assert latest <= ONE_AM and open_cases > 0
    assert numbered_today == 0  # before 01:00 nobody had reported anything yet today


def test_the_demo_history_ending_in_the_afternoon_has_nothing_after_that_moment(engine, city):
    """As seen in the issue: at 06:47Z (14:47 Beijing) cases were stamped 08:18Z (at this scale
    the old code wrote some of the open cases of the day after 14:47)."""
    assert write_validated(engine, city).ok
    at = dt.datetime(2026, 11, 27, 6, 47, tzinfo=dt.UTC)
    assert load_history(engine, scale=0.1, end=at) > 10_000
    with engine.connect() as conn:
        latest = conn.execute(text("""SELECT greatest(max(created_at), max(registered_at),
            max(closed_at), max(updated_at), (SELECT max(at) FROM case_events)) FROM cases""")).scalar()
    assert latest <= at
