"""Department task orders (下单到网格): a department's task for an area becomes one grid task per
covered grid, assigned to each grid's worker (or specialist by category); workers accept, report
progress and complete, or turn it into a case; the department follows progress and overdue ones
and sees only its own tasks."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from api.app import create_app
from layers.access import users
from layers.storage.db import session_scope
from tests.support import MONDAY_10, Clock, scratch_database, small_city

DEADLINE = (MONDAY_10 + dt.timedelta(days=3)).isoformat()


@pytest.fixture(scope="module")
def world(server_url, city_template):
    city = small_city()
    areas = city.layers["areas"]
    with scratch_database(server_url, pool_size=3, template=city_template) as (url, engine):
        app = create_app(url=url)
        app.state.clock = Clock(MONDAY_10)
        with engine.connect() as conn:
            # a community whose grids have full-time workers, and a worker of one of them
            community, grid, worker = conn.execute(text("""
                SELECT left(wa.grid_code, 12), wa.grid_code, w.code FROM worker_assignments wa
                JOIN workers w ON w.id = wa.worker_id WHERE wa.role = 'full_time'
                ORDER BY wa.grid_code LIMIT 1""")).one()
        with TestClient(app) as client, session_scope(engine) as session:
            tokens = {
                "env": users.add(session, "环保局", "department", department="生态环境局")[1],
                "housing": users.add(session, "住建局", "department", department="住房和城乡建设局")[1],
                "worker": users.add(session, "本格网格员", "worker", worker=worker)[1],
                "other_worker": users.add(session, "别处", "worker", "370811111")[1],
                "dispatcher": users.add(session, "街道", "dispatcher", grid[:9])[1],
                "admin": users.add(session, "区级", "admin")[1],
            }
            session.commit()
            yield client, engine, app, areas, community, grid, worker, tokens


def _h(world, who: str) -> dict:
    return {"Authorization": f"Bearer {world[7][who]}"}


def _order(world, who: str = "env", **body) -> dict:
    client = world[0]
    response = client.post("/v1/tasks", headers=_h(world, who), json={
        "title": "排查餐饮油烟直排", "instructions": "逐户检查油烟净化设施", "deadline": DEADLINE,
        **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_order_for_a_community_becomes_one_task_per_grid_with_its_worker(world):
    _client, engine, _app, areas, community, *_ = world
    answer = _order(world, area=[community])
    grids = sorted(areas[(areas.level == "grid") & areas.code.str.startswith(community)].code)
    assert [g["grid"] for g in answer["grid_tasks"]] == grids
    with engine.connect() as conn:
        responsible = dict(conn.execute(text("""
            SELECT wa.grid_code, w.code FROM worker_assignments wa JOIN workers w
            ON w.id = wa.worker_id WHERE wa.role IN ('full_time', 'part_time')
            AND wa.grid_code LIKE :c || '%'"""), {"c": community}).all())
    assert all(g["worker"] == responsible.get(g["grid"]) for g in answer["grid_tasks"])


def test_an_environment_order_goes_to_the_grids_environment_specialist(world):
    _client, engine, *_ = world
    with engine.connect() as conn:
        grid, specialist = conn.execute(text("""
            SELECT wa.grid_code, w.code FROM worker_assignments wa JOIN workers w
            ON w.id = wa.worker_id WHERE wa.role = 'environment' ORDER BY 1 LIMIT 1""")).one()
    answer = _order(world, area=[grid], category="environment")
    assert answer["grid_tasks"] == [{"id": answer["grid_tasks"][0]["id"], "grid": grid,
                                     "worker": specialist,
                                     "worker_name": answer["grid_tasks"][0]["worker_name"]}]


def test_a_drawn_polygon_orders_the_grids_it_covers(world):
    _client, _engine, _app, areas, _c, grid, *_ = world
    shape = areas[areas.code == grid].geometry.iloc[0]
    inner = shape.buffer(-0.0003)
    answer = _order(world, polygon=shapely.geometry.mapping(inner))
    assert [g["grid"] for g in answer["grid_tasks"]] == [grid]


def test_the_worker_accepts_reports_progress_and_completes_and_the_department_sees_it(world):
    client, _engine, _app, _areas, _c, grid, worker, _t = world
    answer = _order(world, area=[grid])
    mine = client.get("/v1/tasks/mine", headers=_h(world, "worker")).json()["tasks"]
    ours = next(t for t in mine if t["task"] == answer["id"])
    assert ours["worker"] == worker and ours["status"] == "assigned" and ours["title"]
    path = f"/v1/grid-tasks/{ours['id']}/transitions"
    for action, status in (("accept", "accepted"), ("progress", "in_progress"),
                           ("complete", "done")):
        step = client.post(path, headers=_h(world, "worker"),
                           json={"action": action, "note": f"{action} 备注",
                                 "photos": ["/v1/photos/1"] if action == "progress" else []})
        assert step.status_code == 200 and step.json()["status"] == status, step.text
    again = client.post(path, headers=_h(world, "worker"), json={"action": "complete"})
    assert again.status_code == 409 and again.json()["error_zh"]
    seen = client.get(f"/v1/tasks/{answer['id']}", headers=_h(world, "env")).json()
    assert seen["progress"]["total"]["done"] == 1 and seen["progress"]["by_street"][0]["done"] == 1
    assert seen["grid_tasks"][0]["status_zh"] == "已完成"
    assert seen["grid_tasks"][0]["last_note"] == "complete 备注"


def test_a_task_past_its_deadline_is_overdue_for_the_department(world):
    client, _engine, app, _areas, _c, grid, *_ = world
    answer = _order(world, area=[grid])
    app.state.clock = Clock(MONDAY_10 + dt.timedelta(days=4))
    try:
        seen = client.get(f"/v1/tasks/{answer['id']}", headers=_h(world, "env")).json()
        listed = client.get("/v1/tasks", headers=_h(world, "env")).json()["tasks"]
    finally:
        app.state.clock = Clock(MONDAY_10)
    assert seen["overdue"] == [answer["grid_tasks"][0]["id"]]
    assert seen["progress"]["total"]["overdue"] == 1
    assert next(t for t in listed if t["id"] == answer["id"])["overdue"] == 1


def test_a_grid_task_that_needs_a_department_becomes_a_case_in_the_same_workflow(world):
    client, _engine, _app, _areas, _c, grid, *_ = world
    answer = _order(world, area=[grid])
    gt = answer["grid_tasks"][0]["id"]
    step = client.post(f"/v1/grid-tasks/{gt}/transitions", headers=_h(world, "worker"),
                       json={"action": "escalate", "case_category": "E0101",
                             "note": "发现油烟直排，需执法"})
    assert step.status_code == 200 and step.json()["status"] == "escalated", step.text
    case = client.get(f"/v1/cases/{step.json()['case_id']}", headers=_h(world, "dispatcher")).json()
    assert case["grid_code"] == grid and case["source"] == "task"
    assert "发现油烟直排" in case["description"]


def test_a_department_sees_only_its_own_tasks(world):
    client = world[0]
    answer = _order(world, area=[world[5]])
    other = client.get(f"/v1/tasks/{answer['id']}", headers=_h(world, "housing"))
    assert other.status_code == 404
    listed = client.get("/v1/tasks", headers=_h(world, "housing")).json()["tasks"]
    assert all(t["department"] == "住房和城乡建设局" for t in listed)
    assert client.get("/v1/cases", headers=_h(world, "env")).status_code == 403


def test_a_worker_elsewhere_cannot_move_our_grid_task(world):
    client = world[0]
    answer = _order(world, area=[world[5]])
    gt = answer["grid_tasks"][0]["id"]
    refused = client.post(f"/v1/grid-tasks/{gt}/transitions", headers=_h(world, "other_worker"),
                          json={"action": "accept"})
    assert refused.status_code == 404


def test_a_resent_order_with_the_same_key_is_one_task(world):
    client = world[0]
    body = {"title": "防汛隐患排查", "deadline": DEADLINE, "area": [world[5]]}
    first = client.post("/v1/tasks", headers={**_h(world, "env"), "Idempotency-Key": "t-42"},
                        json=body)
    second = client.post("/v1/tasks", headers={**_h(world, "env"), "Idempotency-Key": "t-42"},
                         json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()


@pytest.mark.parametrize(("body", "message"), [
    ({"title": "x", "area": ["370811"]}, "deadline: Field required"),
    ({"title": "x", "deadline": "2020-01-01T00:00+08:00", "area": ["370811"]}, "has passed"),
    ({"title": "x", "deadline": DEADLINE, "area": ["999999"]}, "no area"),
    ({"title": "x", "deadline": DEADLINE}, "either area"),
    ({"title": "", "deadline": DEADLINE, "area": ["370811"]}, "title: String should have at least"),
    ({"title": "x" * 201, "deadline": DEADLINE, "area": ["370811"]}, "at most 200"),
    ({"title": "x", "deadline": DEADLINE, "polygon": {"type": "Point", "coordinates": [1, 2]}},
     "Polygon"),
    ({"title": "x", "deadline": DEADLINE, "area": "370811"}, "area: Input should be a valid list"),
])
def test_a_bad_order_is_422_saying_what_to_fix_and_writes_nothing(world, body, message):
    client, engine, *_ = world
    with engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM tasks"))
    response = client.post("/v1/tasks", headers=_h(world, "env"), json=body)
    assert response.status_code == 422 and message in response.json()["error"], response.text
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tasks")) == before


def test_user_add_ties_a_credential_to_a_worker_and_names_a_department(world, monkeypatch):
    from gridmap.cli import app
    from gridmap.settings import get_settings

    _client, engine, _app, _areas, _c, grid, worker, _t = world
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        tied = CliRunner().invoke(app, ["user", "add", "杨文", "--role", "worker", "--worker", worker])
        dep = CliRunner().invoke(app, ["user", "add", "市场监管局", "--role", "department",
                                       "--department", "市场监督管理局"])
        bad = CliRunner().invoke(app, ["user", "add", "x", "--role", "department"])
    finally:
        get_settings.cache_clear()
    assert tied.exit_code == 0 and f"scope {grid}" in tied.output
    assert dep.exit_code == 0 and bad.exit_code == 1 and "--department" in bad.output


def test_the_assessment_scores_and_ranks_each_grid_worker_of_a_street(world):
    """全员考核: every responsible worker of the street, the contract's measures, a score from the
    weights in force and a rank within the street; a task done on time counts for its worker."""
    client, _engine, _app, _areas, _c, grid, worker, _t = world
    answer = _order(world, area=[grid], title="月度考核测试")
    gt = answer["grid_tasks"][0]["id"]
    for action in ("accept", "complete"):
        client.post(f"/v1/grid-tasks/{gt}/transitions", headers=_h(world, "worker"),
                    json={"action": action})
    answer = client.get("/v1/stats/workers", params={"month": "2026-11", "area": grid[:9]},
                        headers=_h(world, "dispatcher"))
    rows = answer.json()  # the contract: a list, one row per worker
    assert rows and all(r["street"]["code"] == grid[:9] for r in rows)
    keys = {"worker", "patrol_km", "patrol_days", "coverage", "cases_found", "cases_on_time",
            "tasks_done", "visits_done", "score", "rank_in_street"}
    assert all(keys <= set(r) for r in rows)
    assert sorted(r["rank_in_street"] for r in rows) == list(range(1, len(rows) + 1))
    ours = next(r for r in rows if r["worker"]["code"] == worker)
    assert ours["tasks_done"] >= 1 and ours["tasks_on_time"] >= 1
    assert answer.headers["X-Assessment-Weights-Version"] == "0"
    assert answer.headers["X-Assessment-Working-Days"] == "21"  # November 2026


def test_workers_and_departments_may_not_read_the_assessment(world):
    client = world[0]
    for who in ("worker", "env"):
        assert client.get("/v1/stats/workers", headers=_h(world, who)).status_code == 403


def test_the_weights_are_data_edited_as_new_versions_and_checked(world):
    client = world[0]
    good = {"patrol": 0.3, "coverage": 0.1, "cases": 0.2, "tasks": 0.15, "visits": 0.15,
            "rating": 0.1}
    bad = client.put("/v1/stats/workers/weights", headers=_h(world, "admin"),
                     json={"weights": {**good, "patrol": 0.5}})
    assert bad.status_code == 422 and "sum to 1" in bad.json()["error"]
    assert client.put("/v1/stats/workers/weights", headers=_h(world, "dispatcher"),
                      json={"weights": good}).status_code == 403
    first = client.put("/v1/stats/workers/weights", headers=_h(world, "admin"),
                       json={"weights": good, "note": "加重巡查"}).json()
    second = client.put("/v1/stats/workers/weights", headers=_h(world, "admin"),
                        json={"weights": {**good, "patrol": 0.25, "rating": 0.15}}).json()
    assert second["version"] > first["version"] and second["weights"]["rating"] == 0.15
    seen = client.get("/v1/stats/workers/weights", headers=_h(world, "dispatcher")).json()
    assert [h["version"] for h in seen["history"][:2]] == [second["version"], first["version"]]
    assert seen["history"][1]["note"] == "加重巡查"
