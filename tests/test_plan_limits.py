"""What a plan edit may cost and who may be put in a grid (the security probe's planning
findings): a geometry is checked — structure, coordinate ranges, corners — before any geometry
work, with a 4xx naming what to fix; never a 500; a street's planner cannot take another
street's worker."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from layers.access import users
from layers.storage.db import session_scope


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


def _circle(centre: shapely.Point, radius_deg: float, corners: int) -> dict:
    t = np.linspace(0, 2 * math.pi, corners, endpoint=False)
    ring = np.column_stack([centre.x + radius_deg * np.cos(t), centre.y + radius_deg * np.sin(t)])
    return {"type": "Polygon", "coordinates": [[*ring.tolist(), ring[0].tolist()]]}


def test_a_polygon_with_more_corners_than_the_limit_is_refused_naming_the_limit(env):
    client, h, _other, plan, _community, pair = env
    a = pair.code.iloc[0]
    inside = pair.geometry.iloc[0].representative_point()
    r = client.put(f"/v1/plans/{plan['id']}/grids/{a}", headers=h,
                   json={"geometry": _circle(inside, 0.0001, 20_001)})
    assert r.status_code == 413, r.text
    assert r.json()["limit"] == 20_000 and "20,000" in r.json()["error"]
    assert "20,000" in r.json()["error_zh"]
    assert client.get(f"/v1/plans/{plan['id']}/history", headers=h).json()[-1]["action"] == "create"


def test_a_split_line_of_one_point_is_a_422_saying_so(env):
    client, h, _other, plan, _community, pair = env
    point = pair.geometry.iloc[0].representative_point()
    r = client.post(f"/v1/plans/{plan['id']}/split", headers=h, json={
        "grid": pair.code.iloc[0], "line": {"type": "LineString", "coordinates": [[point.x, point.y]]}})
    assert r.status_code == 422, r.text
    assert "at least two different points" in r.json()["error"]


def test_a_valid_20000_corner_circle_over_neighbours_is_answered_without_a_500(env, engine, city):
    client, _h, _other, _plan, _community, _pair = env
    # a circle on the edge of one grid of the demo, where GEOS stopped with "TopologyException:
    # side location conflict" while the neighbour gave way (found by trying circles on its grids)
    grids = city.layers["areas"].set_index("code").geometry
    code = "37081100800102"
    outline = grids[code].geoms[0].exterior if grids[code].geom_type == "MultiPolygon" \
        else grids[code].exterior
    circle = _circle(outline.interpolate(0.3, normalized=True), 0.003, 20_000)
    assert shapely.geometry.shape(circle).is_valid
    with session_scope(engine) as session:
        admin = {"Authorization": f"Bearer {users.add(session, 'root', 'admin')[1]}"}
    plan = client.post("/v1/plans", headers=admin, json={"name": "圆", "area": code[:12]}).json()
    r = client.put(f"/v1/plans/{plan['id']}/grids/{code}", headers=admin, json={"geometry": circle})
    assert r.status_code == 200, r.text
    changed = {g["code"]: shapely.geometry.shape(g["geometry"]) for g in r.json()["changed"]}
    assert len(changed) >= 2 and all(g.is_valid for g in changed.values())
    assert client.get(f"/v1/plans/{plan['id']}", headers=admin).status_code == 200


def test_a_latitude_beyond_90_in_a_plan_edit_is_a_422(env):
    client, h, _other, plan, _community, pair = env
    x = pair.geometry.iloc[0].representative_point().x
    square = {"type": "Polygon", "coordinates": [[[x, 90.5], [x + 0.001, 90.5], [x + 0.001, 91],
                                                  [x, 91], [x, 90.5]]]}
    for edit in (client.put(f"/v1/plans/{plan['id']}/grids/{pair.code.iloc[0]}", headers=h,
                            json={"geometry": square}),
                 client.post(f"/v1/plans/{plan['id']}/grids", headers=h,
                             json={"geometry": square, "name": "北极"})):
        assert edit.status_code == 422, edit.text
        assert "latitude 91" in edit.json()["error"] or "latitude 90.5" in edit.json()["error"]


def test_a_drawn_polygon_far_outside_the_plan_is_refused_before_any_work(env):
    client, h, _other, plan, _community, _pair = env
    far = shapely.geometry.mapping(shapely.box(100.0, 20.0, 101.0, 21.0))
    r = client.post(f"/v1/plans/{plan['id']}/grids", headers=h, json={"geometry": far, "name": "远"})
    assert r.status_code == 422 and "outside the plan's area" in r.json()["error"]


def test_a_streets_planner_cannot_take_another_streets_worker(env, engine):
    client, h, _other, plan, community, pair = env
    with session_scope(engine) as session:
        foreign = session.execute(text("""
            SELECT w.code FROM workers w JOIN worker_assignments wa ON wa.worker_id = w.id
            WHERE wa.grid_code NOT LIKE :street || '%' ORDER BY w.code LIMIT 1
        """), {"street": community[:9]}).scalar()
        own = session.execute(text("""
            SELECT w.code FROM workers w JOIN worker_assignments wa ON wa.worker_id = w.id
            WHERE wa.grid_code LIKE :street || '%' ORDER BY w.code LIMIT 1
        """), {"street": community[:9]}).scalar()
    grid = pair.code.iloc[0]
    r = client.put(f"/v1/plans/{plan['id']}/grids/{grid}/workers", headers=h,
                   json={"workers": [{"code": foreign, "role": "full_time"}]})
    assert r.status_code == 422, r.text
    assert r.json()["workers"] == [foreign] and r.json()["error_zh"] == "不能调配本辖区以外的网格员"
    ok = client.put(f"/v1/plans/{plan['id']}/grids/{grid}/workers", headers=h,
                    json={"workers": [{"code": own, "role": "full_time"}]})
    assert ok.status_code == 200, ok.text
