"""Nothing a planner does is lost: every edit is a history entry with its grids' geometry before
and after; undo, redo and restore bring any earlier state back exactly (real PostGIS, the API)."""

from __future__ import annotations

import pytest
import shapely

from gis.topology import polygonal
from tests.support import _along_a_lane


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


def _export(client, h, plan_id) -> dict:
    """The plan's grids: code → (geometry as GeoJSON, households, workers)."""
    r = client.get(f"/v1/plans/{plan_id}/export.geojson", headers=h)
    assert r.status_code == 200, r.text
    return {f["properties"]["code"]: (f["geometry"], f["properties"]["households"],
                                      f["properties"]["workers"]) for f in r.json()["features"]}


def _grown(pair):
    """Grid a's polygon grown into its neighbour b: an edit that moves their shared edge."""
    return polygonal(pair.geometry.iloc[0].union(pair.geometry.iloc[1].buffer(-0.0005).intersection(
        pair.geometry.iloc[0].buffer(0.0005))))


def test_an_edit_is_undone_and_redone_to_the_exact_geometry(env):
    client, h, _other, plan, _community, pair = env
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    before = _export(client, h, plan["id"])
    r = client.put(f"/v1/plans/{plan['id']}/grids/{a}", headers=h,
                   json={"geometry": shapely.geometry.mapping(_grown(pair)), "version": 1})
    assert r.status_code == 200, r.text
    edited = _export(client, h, plan["id"])
    assert edited[a] != before[a] and edited[b] != before[b]

    undone = client.post(f"/v1/plans/{plan['id']}/undo", headers=h)
    assert undone.status_code == 200, undone.text
    assert undone.json()["of"]["action"] == "replace" and {a, b} <= set(undone.json()["grids"])
    assert _export(client, h, plan["id"]) == before
    versions = {g["code"]: g["version"] for g in undone.json()["changed"]}
    assert versions[a] == 3  # moved on: a page still holding version 2 gets a 409, not a loss

    redone = client.post(f"/v1/plans/{plan['id']}/redo", headers=h)
    assert redone.status_code == 200, redone.text
    assert _export(client, h, plan["id"]) == edited
    assert client.post(f"/v1/plans/{plan['id']}/redo", headers=h).status_code == 422


def test_the_history_says_who_did_what_when_to_which_grids_and_keeps_the_geometry(env):
    client, h, _other, plan, _community, pair = env
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    client.put(f"/v1/plans/{plan['id']}/grids/{a}", headers=h,
               json={"geometry": shapely.geometry.mapping(_grown(pair)), "version": 1})
    entries = client.get(f"/v1/plans/{plan['id']}/history", headers=h).json()
    assert [e["action"] for e in entries] == ["create", "replace"]
    edit = entries[-1]
    assert edit["actor"] == "plan" and edit["action_zh"] == "重画边界" and edit["at"]
    assert {a, b} <= set(edit["grids"])
    shapes = client.get(f"/v1/plans/{plan['id']}/history/{edit['id']}.geojson", headers=h).json()
    sides = {(f["properties"]["code"], f["properties"]["side"]) for f in shapes["features"]}
    assert {(a, "before"), (a, "after"), (b, "before"), (b, "after")} <= sides
    was = next(f for f in shapes["features"] if f["properties"] == {
        "code": a, "side": "before", "name": pair.name.iloc[0]})
    assert shapely.geometry.shape(was["geometry"]).hausdorff_distance(pair.geometry.iloc[0]) < 1e-8


def test_restore_brings_back_the_plan_after_any_earlier_entry_and_can_itself_be_undone(env, city):
    client, h, _other, plan, _community, pair = env
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    start = _export(client, h, plan["id"])
    split = client.post(f"/v1/plans/{plan['id']}/split", headers=h,
                        json={"grid": a, "line": _along_a_lane(city, pair.geometry.iloc[0])})
    assert split.status_code == 200, split.text
    after_split = _export(client, h, plan["id"])
    merged = client.post(f"/v1/plans/{plan['id']}/merge", headers=h, json={"grids": [a, b]})
    assert merged.status_code == 200, merged.text
    after_merge = _export(client, h, plan["id"])
    entries = client.get(f"/v1/plans/{plan['id']}/history", headers=h).json()
    created, split_entry = entries[0]["id"], entries[1]["id"]

    r = client.post(f"/v1/plans/{plan['id']}/restore", headers=h, json={"entry": split_entry})
    assert r.status_code == 200, r.text
    assert _export(client, h, plan["id"]) == after_split
    assert client.post(f"/v1/plans/{plan['id']}/restore", headers=h,
                       json={"entry": created}).status_code == 200
    assert _export(client, h, plan["id"]) == start
    assert client.post(f"/v1/plans/{plan['id']}/undo", headers=h).status_code == 200
    assert _export(client, h, plan["id"]) == after_split
    assert client.post(f"/v1/plans/{plan['id']}/undo", headers=h).status_code == 200
    assert _export(client, h, plan["id"]) == after_merge


def test_painting_is_undone_in_one_step_with_the_units_back_in_their_grid(env):
    client, h, _other, plan, community, pair = env
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    before = _export(client, h, plan["id"])
    units = client.get(f"/v1/plans/{plan['id']}/units", headers=h, params={"area": community})
    grid_a = shapely.union_all([shapely.geometry.shape(f["geometry"])
                                for f in units.json()["features"] if f["properties"]["grid"] == a])
    edge = [f["id"] for f in units.json()["features"] if f["properties"]["grid"] == b
            and shapely.geometry.shape(f["geometry"]).buffer(1e-7).intersects(grid_a)]
    painted = client.post(f"/v1/plans/{plan['id']}/assign", headers=h,
                          json={"units": edge[:3], "grid": a})
    assert painted.status_code == 200, painted.text
    assert client.post(f"/v1/plans/{plan['id']}/undo", headers=h).status_code == 200
    again = client.get(f"/v1/plans/{plan['id']}/units", headers=h, params={"area": community})
    grids = {f["id"]: f["properties"]["grid"] for f in again.json()["features"]}
    assert all(grids[u] == b for u in edge[:3])  # the same units, back in b
    after = _export(client, h, plan["id"])
    assert {c: v[1] for c, v in after.items()} == {c: v[1] for c, v in before.items()}


def test_a_new_edit_after_undo_empties_the_redo_stack(env):
    client, h, _other, plan, _community, pair = env
    a = pair.code.iloc[0]
    client.put(f"/v1/plans/{plan['id']}/grids/{a}", headers=h,
               json={"geometry": shapely.geometry.mapping(_grown(pair))})
    client.post(f"/v1/plans/{plan['id']}/undo", headers=h)
    assert client.get(f"/v1/plans/{plan['id']}", headers=h).json()["history"]["redo"] is not None
    client.put(f"/v1/plans/{plan['id']}/grids/{a}/workers", headers=h, json={"workers": []})
    assert client.get(f"/v1/plans/{plan['id']}", headers=h).json()["history"]["redo"] is None
    r = client.post(f"/v1/plans/{plan['id']}/redo", headers=h)
    assert r.status_code == 422 and r.json()["error_zh"] == "没有可重做的操作"
