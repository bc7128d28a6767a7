"""The second outside probe's remaining findings (issue 26), one test each: unbounded work
(statement timeouts, the district-wide patrol coverage, task polygons), the one rule for who sees
a case, and the LOW list — case devices, district-wide workers, an organisation's phone read
unaudited, back-filled visits, visit photos' headers. (Sign-in: test_sign_in.py; idempotency
keys: test_idempotency.py; CSV: test_spreadsheet.py; hostile files: test_hostile_files.py.)"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from layers.access import users
from layers.access.policy import ANONYMOUS, Principal, may_read, may_see_case
from layers.registry import REGISTRY
from layers.storage.db import session_scope
from layers.storage.models import UserRole
from tests.support import MONDAY_10, Clock, city_with_register, real_png

DEADLINE = (MONDAY_10 + dt.timedelta(days=3)).isoformat()


@pytest.fixture(scope="module")
def world(server_url, city_template):
    with city_with_register(server_url, city_template, Clock(MONDAY_10)) as (client, engine, city):
        with engine.connect() as conn:
            grid, person = conn.execute(text("""
                SELECT bg.grid_code, p.code FROM persons p
                JOIN building_grids bg ON bg.building_id = p.building_id
                ORDER BY bg.grid_code, p.id LIMIT 1""")).one()
        with session_scope(engine) as session:
            tokens = {
                "worker": users.add(session, "worker", "worker", grid)[1],
                "planner": users.add(session, "planner", "planner", grid[:9])[1],
                "dispatcher": users.add(session, "dispatcher", "dispatcher", grid[:9])[1],
                "district_dispatcher": users.add(session, "区调度", "dispatcher", "370811")[1],
                "admin": users.add(session, "admin", "admin")[1],
                "department": users.add(session, "环保局", "department",
                                        department="生态环境局")[1]}
        point = city.layers["areas"].query("code == @grid").geometry.iloc[0].representative_point()
        case = client.post("/v1/cases", headers={"Authorization": f"Bearer {tokens['admin']}"},
                           json={"source": "patrol", "category": "E0101", "lon": point.x,
                                 "lat": point.y}).json()
        yield client, engine, tokens, grid, person, case


def _h(world, who: str) -> dict:
    return {"Authorization": f"Bearer {world[2][who]}"}


# -- MEDIUM 4: a query never outlives its request --------------------------------------------------
def test_a_district_wide_coverage_question_is_refused_naming_the_limit(world):
    client, engine, *_ = world
    with engine.connect() as conn:
        grids = conn.scalar(text("SELECT count(*) FROM areas WHERE level = 'grid'"))
    app = client.app
    kept, app.state.limits = app.state.limits, replace(app.state.limits,
                                                       max_coverage_grids=grids - 1)
    try:
        r = client.get("/v1/patrols/coverage", headers=_h(world, "district_dispatcher"))
    finally:
        app.state.limits = kept
    assert r.status_code == 422 and r.json()["limit"] == "max_coverage_grids"
    assert "GRIDMAP_MAX_COVERAGE_GRIDS" in r.json()["error"]


def test_a_read_past_its_statement_timeout_is_cancelled_in_postgresql_and_refused(world):
    client, engine, _t, grid, *_ = world
    app = client.app
    kept, app.state.limits = app.state.limits, replace(app.state.limits,
                                                       statement_timeout_read_ms=300)
    blocker = engine.connect()
    blocker.execute(text("LOCK TABLE patrols IN ACCESS EXCLUSIVE MODE"))  # the query must wait
    # a safety net, not a synchronisation: without a timeout the request would wait for ever
    release = threading.Timer(60, blocker.rollback)
    release.start()
    try:
        r = client.get("/v1/patrols/coverage", params={"area": grid}, headers=_h(world, "worker"))
    finally:
        release.cancel()
        blocker.rollback()
        blocker.close()
        app.state.limits = kept
    assert r.status_code == 422 and r.json()["code"] == "statement_timeout"
    assert "GRIDMAP_STATEMENT_TIMEOUT_READ_MS" in r.json()["error"]
    with engine.connect() as conn:  # nothing of it goes on in the database
        assert conn.scalar(text("""SELECT count(*) FROM pg_stat_activity WHERE datname =
            current_database() AND state = 'active' AND query LIKE '%patrols%'
            AND pid <> pg_backend_pid()""")) == 0


def test_a_task_polygon_across_the_antimeridian_is_refused_not_a_band_round_the_globe(world):
    client, engine, *_ = world
    with engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM tasks"))
    ring = [[179.5, 35.0], [-179.5, 35.0], [-179.5, 35.5], [179.5, 35.5], [179.5, 35.0]]
    r = client.post("/v1/tasks", headers=_h(world, "department"), json={
        "title": "排查", "deadline": DEADLINE, "polygon": {"type": "Polygon", "coordinates": [ring]}})
    assert r.status_code == 422 and r.json()["limit"] == "antimeridian"
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tasks")) == before


def test_the_task_polygons_vertex_bound_is_the_setting(world):
    client, *_ = world
    angles = np.linspace(0, 2 * np.pi, 201)
    ring = np.column_stack([116.58 + 0.01 * np.cos(angles), 35.41 + 0.01 * np.sin(angles)])
    ring[-1] = ring[0]
    app = client.app
    kept, app.state.limits = app.state.limits, replace(app.state.limits, max_vertices=100)
    try:
        r = client.post("/v1/tasks", headers=_h(world, "department"), json={
            "title": "排查", "deadline": DEADLINE,
            "polygon": {"type": "Polygon", "coordinates": [ring.tolist()]}})
    finally:
        app.state.limits = kept
    assert r.status_code == 422 and "GRIDMAP_MAX_VERTICES" in r.json()["error"]


# -- one rule for who sees a case --------------------------------------------------------------------
@pytest.mark.parametrize("role", list(UserRole))
def test_the_cases_layer_is_read_by_exactly_the_roles_that_may_see_a_case(role):
    who = Principal(name="x", role=role, scope_code=None)
    assert may_read(who, REGISTRY.get("cases").read_role) == may_see_case(who, "37081100800101")


def test_a_map_overlay_declared_with_an_action_is_shown_to_the_roles_the_policy_lets_read_it():
    from dataclasses import replace as _replace

    from layers.registry import Overlay
    from map_ui.pages import coverage_overlays

    cases = REGISTRY.get("cases")
    overlaid = _replace(cases, overlay=Overlay("案件", read_role="case.read"))
    assert overlaid in coverage_overlays(UserRole.DISPATCHER, [overlaid])
    assert coverage_overlays(UserRole.PUBLIC, [overlaid]) == []


def test_case_tiles_follow_the_case_rule_for_each_caller(world):
    client, *_ = world
    answers = {who: client.get("/tiles/cases/0/0/0.pbf", headers=_h(world, who)).status_code
               for who in ("worker", "planner", "dispatcher", "department")}
    assert answers == {"worker": 200, "planner": 200, "dispatcher": 200, "department": 403}
    assert may_see_case(ANONYMOUS, None) is False


# -- LOW ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cameras", "responders", "loudspeakers"])
def test_a_cases_cameras_and_loudspeakers_are_the_dispatchers(world, device):
    client, _e, _t, _g, _p, case = world
    path = f"/v1/cases/{case['id']}/{device}"
    assert client.get(path, headers=_h(world, "worker")).status_code == 403
    assert client.get(path, headers=_h(world, "planner")).status_code == 403
    assert client.get(path, headers=_h(world, "dispatcher")).status_code == 200


def test_a_worker_credential_without_a_grid_or_scope_is_refused(world, monkeypatch):
    from gridmap.cli import app
    from gridmap.settings import get_settings

    engine = world[1]
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["user", "add", "无范围", "--role", "worker"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "--worker" in result.output and "--scope" in result.output
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM users WHERE name = '无范围'")) == 0


def test_reading_an_organisations_contact_phone_is_audited(world):
    client, engine, *_ = world
    with engine.connect() as conn:
        name = conn.scalar(text("SELECT name FROM organisations ORDER BY id LIMIT 1"))
    r = client.get("/v1/organisations", params={"q": name}, headers=_h(world, "admin"))
    assert r.status_code == 200 and r.json()["results"][0]["contact_phone"]
    with engine.connect() as conn:
        entry = conn.execute(text("""SELECT actor, detail FROM audit_log
            WHERE action = 'organisation.read' ORDER BY id DESC LIMIT 1""")).one()
    assert entry.actor == "admin" and entry.detail["identified"] is True
    assert name not in str(entry.detail)  # the kind of query, never the query


@pytest.mark.parametrize(("when", "accepted"), [
    (dt.timedelta(hours=-1), True),  # an hour ago: sent now
    (dt.timedelta(days=-2), True),  # a phone offline over the weekend
    (dt.timedelta(days=-20), False),  # last month's list back-filled
    (dt.timedelta(days=1), False),  # tomorrow
])
def test_a_visit_is_recorded_when_it_happens_not_back_filled_or_in_the_future(world, when, accepted):
    client, _e, _t, _g, person, _c = world
    at = (MONDAY_10 + when).isoformat()
    r = client.post("/v1/visits", headers=_h(world, "worker"),
                    json={"person": person, "visited_at": at})
    assert r.status_code == (201 if accepted else 422), r.text


def test_a_visit_photo_is_served_as_nothing_but_an_image(world):
    client, _e, _t, _g, person, _c = world
    visit = client.post("/v1/visits", headers=_h(world, "worker"), json={"person": person}).json()
    photo = client.post(f"/v1/visits/{visit['id']}/photos", headers=_h(world, "worker"),
                        files={"file": ("门口.png", real_png(), "image/png")}).json()
    r = client.get(f"/v1/visits/{visit['id']}/photos/{photo['id']}", headers=_h(world, "worker"))
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "default-src 'none'"
