"""Idempotency keys bound to the caller (probe issue 26, MEDIUM 7), one header for every create
the phone's queue replays: a resend by the same caller answers the first record; another
caller's key is refused and shows nothing of the record it made."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from layers.access import users
from layers.storage.db import session_scope
from tests.support import MONDAY_10, Clock, city_with_register

DEADLINE = (MONDAY_10 + dt.timedelta(days=3)).isoformat()


@pytest.fixture(scope="module")
def world(server_url, city_template):
    with city_with_register(server_url, city_template, Clock(MONDAY_10)) as (client, engine, city):
        with engine.connect() as conn:
            # two grids with people to visit, in two streets
            grid_a, grid_b = conn.execute(text("""
                SELECT DISTINCT ON (left(bg.grid_code, 9)) bg.grid_code FROM persons p
                JOIN building_grids bg ON bg.building_id = p.building_id
                ORDER BY left(bg.grid_code, 9), bg.grid_code LIMIT 2""")).scalars().all()
            person_a, person_b = (conn.execute(text("""
                SELECT p.code FROM persons p JOIN building_grids bg ON bg.building_id = p.building_id
                WHERE bg.grid_code = :g ORDER BY p.id LIMIT 1"""), {"g": g}).scalar()
                for g in (grid_a, grid_b))
        with session_scope(engine) as session:
            tokens = {
                "worker_a": users.add(session, "甲格网格员", "worker", grid_a)[1],
                "worker_a2": users.add(session, "甲格兼职", "worker", grid_a)[1],
                "worker_b": users.add(session, "乙格网格员", "worker", grid_b)[1],
                "env": users.add(session, "环保局", "department", department="生态环境局")[1],
                "housing": users.add(session, "住建局", "department", department="住建局")[1],
            }
        yield client, engine, tokens, {"a": grid_a, "b": grid_b}, \
            {"a": person_a, "b": person_b}, city


def _h(world, who: str, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {world[2][who]}"}
    return {**headers, "Idempotency-Key": key} if key else headers


def _inside(world, grid: str) -> tuple[float, float]:
    areas = world[5].layers["areas"]
    p = areas[areas.code == grid].geometry.iloc[0].representative_point()
    return p.x, p.y


def _track(world, grid: str, hour: int) -> dict:
    lon, lat = _inside(world, grid)
    start = MONDAY_10 + dt.timedelta(hours=hour)
    return {"track": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.0001, lat]]},
            "times": [start.isoformat(), (start + dt.timedelta(seconds=10)).isoformat()]}


def _count(world, table: str) -> int:
    with world[1].connect() as conn:
        return conn.scalar(text(f"SELECT count(*) FROM {table}"))


# -- the same caller: a resend answers the first record -------------------------------------------
def test_a_visit_resent_with_the_same_idempotency_key_header_is_one_visit(world):
    client, _e, _t, _g, people, _c = world
    headers = _h(world, "worker_a", "phone-visit-0001")
    first = client.post("/v1/visits", json={"person": people["a"]}, headers=headers)
    again = client.post("/v1/visits", json={"person": people["a"]}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_a_grid_task_step_resent_answers_the_first_step_not_a_conflict(world):
    client, _e, _t, grids, _p, _c = world
    task = client.post("/v1/tasks", headers=_h(world, "env"), json={
        "title": "排查", "deadline": DEADLINE, "area": [grids["a"]]}).json()
    step = f"/v1/grid-tasks/{task['grid_tasks'][0]['id']}/transitions"
    headers = _h(world, "worker_a", "phone-step-0001")
    first = client.post(step, json={"action": "accept"}, headers=headers)
    again = client.post(step, json={"action": "accept"}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    # a new step without the key is a new step, refused by the workflow as before
    assert client.post(step, json={"action": "accept"},
                       headers=_h(world, "worker_a")).status_code == 409


# -- another caller: refused, nothing shown, nothing of theirs answered ----------------------------
def test_another_workers_visit_key_is_refused_and_shows_nothing_of_the_visit(world):
    client, _e, _t, _g, people, _c = world
    mine = client.post("/v1/visits", json={"person": people["a"], "note": "家中无人"},
                       headers=_h(world, "worker_a", "visit-key-of-a")).json()
    before = _count(world, "visits")
    replay = client.post("/v1/visits", json={"person": people["b"]},
                         headers=_h(world, "worker_b", "visit-key-of-a"))
    assert replay.status_code == 403 and replay.json()["code"] == "idempotency_key_taken"
    assert str(mine["id"]) not in replay.text and people["a"] not in replay.text
    assert _count(world, "visits") == before


def test_another_workers_patrol_key_is_refused(world):
    client, _e, _t, grids, _p, _c = world
    mine = client.post("/v1/patrols", json=_track(world, grids["a"], 1),
                       headers=_h(world, "worker_a", "patrol-key-of-a"))
    assert mine.status_code == 201, mine.text
    replay = client.post("/v1/patrols", json=_track(world, grids["b"], 2),
                         headers=_h(world, "worker_b", "patrol-key-of-a"))
    assert replay.status_code == 403 and grids["a"] not in replay.text


def test_another_departments_task_key_is_refused_and_shows_no_grid_or_worker(world):
    client, _e, _t, grids, _p, _c = world
    mine = client.post("/v1/tasks", headers=_h(world, "env", "task-key-of-env"), json={
        "title": "排查油烟", "deadline": DEADLINE, "area": [grids["a"]]})
    assert mine.status_code == 201
    before = _count(world, "tasks")
    replay = client.post("/v1/tasks", headers=_h(world, "housing", "task-key-of-env"), json={
        "title": "排查危房", "deadline": DEADLINE, "area": [grids["b"]]})
    assert replay.status_code == 403
    assert grids["a"] not in replay.text and "排查油烟" not in replay.text
    assert _count(world, "tasks") == before


def test_a_colleagues_case_key_in_the_same_grid_is_refused(world):
    client, _e, _t, grids, _p, _c = world
    lon, lat = _inside(world, grids["a"])
    body = {"source": "patrol", "category": "E0101", "lon": lon, "lat": lat}
    mine = client.post("/v1/cases", json=body, headers=_h(world, "worker_a", "case-key-of-a"))
    assert mine.status_code == 201
    replay = client.post("/v1/cases", json=body, headers=_h(world, "worker_a2", "case-key-of-a"))
    assert replay.status_code == 403 and mine.json()["case_no"] not in replay.text
