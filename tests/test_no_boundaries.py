"""Planning work that needs the boundaries in force says so when there are none (mypy's
finding of issue 25: plans used a possibly-None active generation, an AttributeError → 500)."""

from __future__ import annotations

import pytest

from layers.boundaries import generations
from layers.planning import schedule
from layers.storage.db import session_scope
from layers.storage.models import Plan


def test_a_plan_without_a_base_on_a_database_without_boundaries_is_refused_with_what_to_load(engine):
    plan = Plan(name="无边界", area_code="370811", generation_id=1, created_by="planner")
    with session_scope(engine) as session, pytest.raises(generations.NoGeneration) as refused:
        schedule.own_communities(session, plan)
    assert "gridmap demo load" in str(refused.value)


def test_requiring_the_active_generation_refuses_an_empty_database(engine):
    with session_scope(engine) as session, pytest.raises(generations.NoGeneration):
        generations.require_active(session)
