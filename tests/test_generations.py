"""Boundary generations: one active, drafts published atomically, the past still answerable."""

import datetime as dt

import pytest
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy.exc import IntegrityError

from layers.boundaries import generations
from layers.storage.db import session_scope
from layers.storage.models import Area, Generation, GenerationStatus

D1, D2 = dt.date(2024, 1, 1), dt.date(2025, 7, 1)


def _district(gen: Generation, name: str = "任城区") -> Area:
    poly = shapely.MultiPolygon([shapely.box(116.4, 35.1, 116.8, 35.6)])
    return Area(generation_id=gen.id, code="370811", name=name, level="district",
                geom=from_shape(poly, srid=4326))


def _first_active(session) -> Generation:
    gen = Generation(name="g1", status=GenerationStatus.ACTIVE, effective_from=D1)
    session.add(gen)
    session.flush()
    session.add(_district(gen))
    return gen


def test_the_database_refuses_a_second_active_generation(engine):
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        _first_active(session)
        session.add(Generation(name="g2", status=GenerationStatus.ACTIVE, effective_from=D2))
        session.flush()


def test_publishing_a_draft_retires_the_active_generation_on_its_effective_date(engine):
    with session_scope(engine) as session:
        first = _first_active(session)
        session.flush()
        draft = generations.create_draft(session, "g2", copy_from=first)
        generations.publish(session, draft, D2)
    with session_scope(engine) as session:
        old, new = generations.list_all(session)
        assert (old.status, old.effective_to) == (GenerationStatus.RETIRED, D2)
        assert (new.status, new.effective_from) == (GenerationStatus.ACTIVE, D2)
        assert generations.in_force_on(session, dt.date(2024, 6, 1)).id == old.id
        assert generations.in_force_on(session, D2).id == new.id
        assert generations.in_force_on(session, dt.date(2023, 1, 1)) is None


def test_a_draft_copy_keeps_the_area_tree_linked_within_itself(engine):
    with session_scope(engine) as session:
        first = _first_active(session)
        session.flush()
        district = session.query(Area).filter_by(generation_id=first.id).one()
        session.add(Area(generation_id=first.id, code="370811008", name="金城街道",
                         level="street", parent_id=district.id, geom=district.geom))
        session.flush()
        draft = generations.create_draft(session, "g2", copy_from=first)
        street = session.query(Area).filter_by(generation_id=draft.id, code="370811008").one()
        assert street.parent.generation_id == draft.id
        assert street.parent.code == "370811"


def test_only_a_draft_can_be_published(engine):
    with pytest.raises(generations.GenerationError, match="only a draft"), \
            session_scope(engine) as session:
        generations.publish(session, _first_active(session), D2)


def test_an_empty_draft_cannot_be_published(engine):
    with pytest.raises(generations.GenerationError, match="no areas"), \
            session_scope(engine) as session:
        generations.publish(session, generations.create_draft(session, "empty"), D2)


def test_a_failed_publish_leaves_the_active_generation_untouched(engine):
    with session_scope(engine) as session:
        first = _first_active(session)
        session.flush()
        draft = generations.create_draft(session, "g2", copy_from=first)
        draft_id = draft.id
    # boundaries cannot change in the past (the same day is allowed: a same-day correction)
    with pytest.raises(generations.GenerationError, match="before the active"), \
            session_scope(engine) as session:
        generations.publish(session, generations.get(session, draft_id), D1 - dt.timedelta(days=1))
    with session_scope(engine) as session:
        assert generations.active(session).name == "g1"
        assert generations.get(session, draft_id).status == GenerationStatus.DRAFT


def test_a_second_publish_on_the_day_the_active_one_took_effect_is_allowed(engine):
    with session_scope(engine) as session:
        first = _first_active(session)
        session.flush()
        draft = generations.create_draft(session, "g2", copy_from=first)
        generations.publish(session, draft, D1, today=D1)
    with session_scope(engine) as session:
        assert generations.active(session).name == "g2"
        assert generations.in_force_on(session, D1).name == "g2"


def test_a_future_publish_is_scheduled_and_activated_on_its_day(engine):
    with session_scope(engine) as session:
        first = _first_active(session)
        session.flush()
        draft = generations.create_draft(session, "g2", copy_from=first)
        generations.publish(session, draft, D2, today=D2 - dt.timedelta(days=3))
        assert draft.status == GenerationStatus.SCHEDULED
    with session_scope(engine) as session:
        assert generations.active(session).name == "g1"
        assert generations.activate_due(session, D2 - dt.timedelta(days=1)) is None
        assert generations.in_force_on(session, D2).name == "g2"  # `at=` the future day
    with session_scope(engine) as session:
        assert generations.activate_due(session, D2).name == "g2"
    with session_scope(engine) as session:
        assert generations.active(session).name == "g2"
        assert generations.in_force_on(session, D2 - dt.timedelta(days=1)).name == "g1"
