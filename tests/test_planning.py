"""Planning: a planner's draft → edits → validation → impact → publish → locate, over the API,
against real PostGIS."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from shapely.ops import substring

from gis.topology import polygonal
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import NOW, _along_a_lane, _community_with_grids, eventually


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


def _grid(client, h, plan_id, code) -> dict:
    return next(g for g in client.get(f"/v1/plans/{plan_id}", headers=h).json()["grids"]
                if g["code"] == code)


def test_a_plan_is_a_draft_copy_with_counts_and_versions(env):
    client, h, _other, plan, community, pair = env
    assert plan["generation"]["status"] == "draft" and plan["area"] == community
    grids = client.get(f"/v1/plans/{plan['id']}", headers=h).json()["grids"]
    assert {g["code"] for g in grids} >= set(pair.code)
    assert all(g["version"] == 1 and g["households"] >= 0 for g in grids)
    assert sum(g["buildings"] for g in grids) > 0
    assert [p["id"] for p in client.get("/v1/plans", headers=h).json()] == [plan["id"]]


def test_a_planner_of_another_street_cannot_see_or_change_the_plan(env):
    client, _h, other, plan, community, _pair = env
    assert client.get(f"/v1/plans/{plan['id']}", headers=other).status_code == 403
    assert client.post("/v1/plans", headers=other, json={"name": "x", "area": community}).status_code == 403
    assert client.get("/v1/plans", headers=other).json() == []


def test_moving_a_shared_edge_moves_it_for_both_grids_and_a_stale_version_is_409(env):
    client, h, _other, plan, _community, pair = env
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    grown = polygonal(pair.geometry.iloc[0].union(pair.geometry.iloc[1].buffer(-0.0005).intersection(
        pair.geometry.iloc[0].buffer(0.0005))))
    r = client.put(f"/v1/plans/{plan['id']}/grids/{a}", headers=h,
                   json={"geometry": shapely.geometry.mapping(grown), "version": 1})
    assert r.status_code == 200, r.text
    changed = {g["code"]: g for g in r.json()["changed"]}
    assert set(changed) >= {a, b} and changed[a]["version"] == 2
    geom_a = shapely.geometry.shape(changed[a]["geometry"])
    geom_b = shapely.geometry.shape(changed[b]["geometry"])
    assert geom_a.intersection(geom_b).area < 1e-12  # no overlap: the neighbour gave way
    assert not any(p["kind"] == "overlap" for p in r.json()["validation"]["problems"])
    stale = client.put(f"/v1/plans/{plan['id']}/grids/{a}", headers=h,
                       json={"geometry": shapely.geometry.mapping(pair.geometry.iloc[0]), "version": 1})
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 2
    assert _grid(client, h, plan["id"], a)["version"] == 2  # nothing lost


def test_split_gives_the_next_free_code_and_merge_joins_them_again(env, city):
    client, h, _other, plan, community, pair = env
    code, geom = pair.code.iloc[0], pair.geometry.iloc[0]
    r = client.post(f"/v1/plans/{plan['id']}/split", headers=h, json={
        "grid": code, "line": _along_a_lane(city, geom)})
    assert r.status_code == 200, r.text
    kept, new = r.json()["grids"]
    assert kept == code and new.startswith(community) and new > code
    assert r.json()["validation"]["errors"] == 0
    merged = client.post(f"/v1/plans/{plan['id']}/merge", headers=h, json={"grids": [kept, new]})
    assert merged.status_code == 200 and merged.json()["grid"] == kept
    assert new in merged.json()["removed"]


def test_a_split_line_along_a_lane_that_stops_inside_the_grid_is_carried_on_to_its_edges(env, city):
    client, h, _other, plan, _community, pair = env
    code, geom = pair.code.iloc[0], pair.geometry.iloc[0]
    drawn = shapely.geometry.shape(_along_a_lane(city, geom)).intersection(geom)
    inside = substring(drawn, 0.2, 0.8, normalized=True)  # both ends inside the grid
    assert geom.contains(shapely.Point(inside.coords[0])) and geom.contains(shapely.Point(inside.coords[-1]))
    r = client.post(f"/v1/plans/{plan['id']}/split", headers=h, json={
        "grid": code, "line": shapely.geometry.mapping(inside)})
    assert r.status_code == 200, r.text
    parts = [shapely.geometry.shape(g["geometry"]) for g in r.json()["changed"]]
    assert len(parts) == 2 and all(p.area > 0.05 * geom.area for p in parts)
    assert abs(sum(p.area for p in parts) - geom.area) < 1e-9 * geom.area + 1e-12


def test_a_split_cuts_units_again_for_its_two_grids_only(env, city):
    """The page reloads the units after every change of outlines: the grids the edit did not
    touch keep their units (and ids), so the reload costs two grids, not the community."""
    client, h, _other, plan, community, pair = env
    code = pair.code.iloc[0]
    before = client.get(f"/v1/plans/{plan['id']}/units", headers=h, params={"area": community}).json()
    r = client.post(f"/v1/plans/{plan['id']}/split", headers=h, json={
        "grid": code, "line": _along_a_lane(city, pair.geometry.iloc[0])})
    assert r.status_code == 200, r.text
    kept, new = r.json()["grids"]
    after = client.get(f"/v1/plans/{plan['id']}/units", headers=h, params={"area": community}).json()
    untouched = {f["id"] for f in before["features"] if f["properties"]["grid"] != code}
    assert untouched <= {f["id"] for f in after["features"]}
    assert {f["properties"]["grid"] for f in after["features"] if f["id"] not in untouched} == {kept, new}


def test_a_bad_split_line_is_a_clear_422(env):
    client, h, _other, plan, _community, pair = env
    r = client.post(f"/v1/plans/{plan['id']}/split", headers=h, json={
        "grid": pair.code.iloc[0], "line": {"type": "LineString", "coordinates": [[0, 0], [0.1, 0.1]]}})
    assert r.status_code == 422 and "across the grid" in r.json()["error"]


def test_publishing_a_plan_with_a_gap_is_422_and_changes_nothing(env, engine):
    client, h, _other, plan, _community, pair = env
    before = client.get("/v1/generations").json()
    client.delete(f"/v1/plans/{plan['id']}/grids/{pair.code.iloc[1]}", headers=h)
    report = client.get(f"/v1/plans/{plan['id']}/validation", headers=h).json()
    assert not report["valid"] and any(p["kind"] == "gap" for p in report["problems"])
    r = client.post(f"/v1/plans/{plan['id']}/publish", headers=h, json={})
    assert r.status_code == 422 and r.json()["validation"]["errors"] >= 1
    assert client.get("/v1/generations").json() == before


def test_validation_names_grids_in_chinese_by_their_names_and_in_english_by_code(env):
    """A planner reads 网格“英萃社区第3网格”, not 37081101100103; programs keep the codes."""
    client, h, _other, plan, _community, pair = env
    emptied = client.put(f"/v1/plans/{plan['id']}/grids/{pair.code.iloc[0]}/workers", headers=h,
                         json={"workers": []})
    assert emptied.status_code == 200, emptied.text  # a grid without a worker: a warning
    problems = client.get(f"/v1/plans/{plan['id']}/validation", headers=h).json()["problems"]
    named = [p for p in problems if p["grids"] and p["grids"][0] in p["message"]]
    assert any(p["kind"] == "no_worker" for p in named)
    grids = {g["code"]: g["name"] for g in client.get(f"/v1/plans/{plan['id']}",
                                                        headers=h).json()["grids"]}
    for problem in named:
        assert all(code not in problem["message_zh"] for code in problem["grids"])
        assert f"“{grids[problem['grids'][0]]}”" in problem["message_zh"]
        assert problem["grids"][0] in problem["message"]


def test_draft_edit_impact_publish_locate_round_trip(env, city):
    client, h, _other, plan, _community, pair = env
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    inside_b = pair.geometry.iloc[1].representative_point()
    # give all of b to a, and b's worker to a
    merged = client.post(f"/v1/plans/{plan['id']}/merge", headers=h, json={"grids": [a, b]})
    assert merged.status_code == 200, merged.text
    impact = client.get(f"/v1/plans/{plan['id']}/impact", headers=h).json()
    assert impact["buildings_moved"] >= 0 and impact["changed_areas"]["features"]
    assert {w["code"] for w in impact["workers"]}
    r = client.post(f"/v1/plans/{plan['id']}/publish", headers=h, json={})
    assert r.status_code == 200, r.text
    assert r.json()["generation"]["status"] == "active"
    # every process swaps its index in when it hears the publish (NOTIFY): not synchronous
    assert eventually(lambda: client.get("/v1/locate", params={
        "lon": inside_b.x, "lat": inside_b.y}).json()["grid"]["code"] == a)
    history = [e["action"] for e in client.get(f"/v1/plans/{plan['id']}/history", headers=h).json()]
    assert history == ["create", "merge", "publish"]
    old = client.get("/v1/locate", params={"lon": inside_b.x, "lat": inside_b.y,
                                           "at": (NOW.date() - dt.timedelta(days=1)).isoformat()})
    assert old.status_code in (200, 404)


def test_a_future_publish_keeps_todays_grids_until_that_day(env):
    client, h, _other, plan, _community, _pair = env
    day = (NOW.date() + dt.timedelta(days=7)).isoformat()
    r = client.post(f"/v1/plans/{plan['id']}/publish", headers=h, json={"effective_from": day})
    assert r.status_code == 200 and r.json()["generation"]["status"] == "scheduled"
    assert client.get(f"/v1/plans/{plan['id']}", headers=h).json()["status"] == "published"
    gens = {g["status"] for g in client.get("/v1/generations").json()}
    assert {"active", "scheduled"} <= gens


def test_the_cli_lists_shows_validates_and_publishes_plans(settings_env, engine, city):
    from typer.testing import CliRunner

    from gridmap.cli import app as cli
    from layers.access.audit import cli_principal
    from layers.planning import plans

    assert write_validated(engine, city).ok
    community, _pair = _community_with_grids(city)
    with session_scope(engine) as session:
        plan_id = plans.create(session, name="cli", area_code=community, by=cli_principal()).id
    runner = CliRunner()
    assert str(plan_id) in runner.invoke(cli, ["plans", "list"]).output
    shown = runner.invoke(cli, ["plans", "show", str(plan_id)])
    assert shown.exit_code == 0 and f"cli ({community}, open)" in shown.output
    checked = runner.invoke(cli, ["plans", "validate", str(plan_id)])
    assert "error(s)" in checked.output
    published = runner.invoke(cli, ["plans", "publish", str(plan_id)])
    assert published.exit_code == (0 if checked.exit_code == 0 else 1), published.output
    assert runner.invoke(cli, ["plans", "show", "999999"]).exit_code == 1


def test_painting_units_moves_households_and_never_makes_a_gap_or_overlap(env):
    client, h, _other, plan, community, pair = env
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    units = client.get(f"/v1/plans/{plan['id']}/units", headers=h, params={"area": community})
    assert units.status_code == 200, units.text
    features = units.json()["features"]
    assert {f["properties"]["grid"] for f in features} >= {a, b}
    assert all(len(f["properties"]["buildings"]) <= 1 for f in features)  # one building at most
    of_b = [f for f in features if f["properties"]["grid"] == b]
    moved = [f["id"] for f in of_b[: max(1, len(of_b) // 2)]]
    households = sum(f["properties"]["households"] for f in of_b if f["id"] in moved)
    before = {g["code"]: g["households"] for g in
              client.get(f"/v1/plans/{plan['id']}", headers=h).json()["grids"]}
    r = client.post(f"/v1/plans/{plan['id']}/assign", headers=h, json={"units": moved, "grid": a})
    assert r.status_code == 200, r.text
    kinds = {p["kind"] for p in r.json()["validation"]["problems"]}
    assert not kinds & {"gap", "overlap", "outside_parent", "building_unassigned"}
    after = {g["code"]: g["households"] for g in
             client.get(f"/v1/plans/{plan['id']}", headers=h).json()["grids"]}
    assert after[a] - before[a] == households == before[b] - after[b]


def test_units_cannot_be_painted_across_communities(env, city):
    client, h, _other, plan, community, _pair = env
    units = client.get(f"/v1/plans/{plan['id']}/units", headers=h, params={"area": community}).json()
    r = client.post(f"/v1/plans/{plan['id']}/assign", headers=h,
                    json={"units": [units["features"][0]["id"]], "grid": "37081100000000"})
    assert r.status_code == 422


def test_a_suggestion_is_balanced_contiguous_and_reported_beside_todays_grids(env):
    client, h, _other, plan, community, _pair = env
    grids_now = [g for g in client.get(f"/v1/plans/{plan['id']}", headers=h).json()["grids"]
                 if g["community"] == community]
    total = sum(g["households"] for g in grids_now)
    r = client.post(f"/v1/plans/{plan['id']}/suggest", headers=h, json={
        "area": community, "households_min": max(1, total // len(grids_now) - 60),
        "households_max": total // len(grids_now) + 60, "grids": len(grids_now), "seconds": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grids"] == len(grids_now)
    assert body["suggestion"]["max_deviation_from_norm"] <= body["current"]["max_deviation_from_norm"]
    assert 0 < body["suggestion"]["mean_polsby_popper"] <= 1
    assert sum(body["suggestion"]["households_per_grid"].values()) == total
    applied = client.post(f"/v1/plans/{plan['id']}/suggest", headers=h, json={
        "area": community, "grids": len(grids_now), "seconds": 1, "apply": True,
        "households_min": 1, "households_max": total})
    assert applied.status_code == 200 and applied.json()["applied"]
    report = client.get(f"/v1/plans/{plan['id']}/validation", headers=h).json()
    assert not {p["kind"] for p in report["problems"]} & {"gap", "overlap", "not_contiguous"}


def test_a_community_redrawn_elsewhere_is_uploaded_whole_or_not_at_all(env, city):
    client, h, _other, plan, community, pair = env
    areas = city.layers["areas"]
    grids = areas[(areas.level == "grid") & (areas.code.str.startswith(community))].sort_values("code")
    merged = shapely.union_all([pair.geometry.iloc[0], pair.geometry.iloc[1]])
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(
                    merged if g.code == pair.code.iloc[0] else g.geometry),
                 "properties": {"code": g.code, "name": g.name, "parent_code": community,
                                "kind": g.kind}}
                for g in grids.itertuples() if g.code != pair.code.iloc[1]]
    bad = [*features, {"type": "Feature", "geometry": features[0]["geometry"],
                       "properties": {"code": "37081199999901", "name": "外来",
                                      "parent_code": "370811999999"}}]
    refused = client.post(f"/v1/plans/{plan['id']}/upload", headers=h,
                          json={"type": "FeatureCollection", "features": bad})
    assert refused.status_code == 422 and refused.json()["problems"][0]["row"] == len(bad)
    assert len(client.get(f"/v1/plans/{plan['id']}", headers=h).json()["grids"]) == len(grids)
    r = client.post(f"/v1/plans/{plan['id']}/upload", headers=h,
                    json={"type": "FeatureCollection", "features": features})
    assert r.status_code == 200, r.text
    assert pair.code.iloc[1] in r.json()["removed"]
    assert not {p["kind"] for p in r.json()["validation"]["problems"]} & {"gap", "overlap"}
    assert len(client.get(f"/v1/plans/{plan['id']}", headers=h).json()["grids"]) == len(grids) - 1


def test_two_readers_cutting_a_plans_units_at_once_store_each_unit_once(env, engine):
    """The page reloads its units after every edit: a second reader arriving while the first
    computes them waits for it and finds them, instead of cutting the same grids again."""
    import threading

    from sqlalchemy import text

    from layers.access.audit import cli_principal
    from layers.planning import plans, units

    _client, _h, _other, _plan, community, _pair = env
    with session_scope(engine) as session:  # a fresh plan: no unit computed yet
        plan_id = plans.create(session, name="并发", area_code=community, by=cli_principal()).id
    second_done = threading.Event()

    def second_reader():
        with session_scope(engine) as session:
            units.units(session, plans.get(session, plan_id, cli_principal()), community)
        second_done.set()

    with session_scope(engine) as first:
        units.units(first, plans.get(first, plan_id, cli_principal()), community)  # not committed
        reader = threading.Thread(target=second_reader)
        reader.start()

        def second_waits_or_is_done() -> bool:
            with engine.connect() as conn:
                waiting = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                           "wait_event_type = 'Lock' AND datname = current_database()"))
            return second_done.is_set() or waiting > 0

        assert eventually(second_waits_or_is_done)
    reader.join()
    with engine.connect() as conn:
        total, distinct = conn.execute(text(
            "SELECT count(*), count(DISTINCT (grid_code, ST_AsBinary(geom))) FROM plan_units "
            "WHERE plan_id = :p"), {"p": plan_id}).one()
    assert total == distinct > 0
