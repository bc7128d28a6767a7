"""GET /v1/locate and POST /v1/locate/batch through the real app on a small demo city."""

import csv
import io
import json

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from gis.crs import transform_xy
from layers.boundaries import generations
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import _a_grid, eventually, small_city


@pytest.fixture(scope="module")
def city():
    return small_city()


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def client(db_url, engine, city):
    with TestClient(create_app(url=db_url)) as c:
        yield c


def test_locate_answers_grid_hierarchy_workers_and_reception_room(client, city):
    grid, lon, lat = _a_grid(city)
    body = client.get("/v1/locate", params={"lon": lon, "lat": lat}).json()
    assert body["grid"] == {"code": grid.code, "name": grid["name"], "kind": "comprehensive"}
    assert body["community"]["code"] == grid.code[:12] and body["community"]["name"]
    assert body["street"]["code"] == grid.code[:9] and body["district"]["code"] == "370811"
    roles = [w["role"] for w in body["workers"]]
    assert roles[0] in ("full_time", "part_time") and {"environment", "safety"} <= set(roles)
    assert all("*" in w["phone_masked"] and len(w["phone_masked"]) == 11 for w in body["workers"])
    assert body["nearest_reception_room"]["distance_m"] >= 0
    assert body["on_boundary"] is False
    assert body["generation"]["status"] == "active"
    assert body["point"] == {"lon": round(lon, 9), "lat": round(lat, 9), "crs": "wgs84"}


def test_a_wechat_gcj02_point_finds_the_same_grid(client, city):
    grid, lon, lat = _a_grid(city)
    gx, gy = transform_xy(lon, lat, "wgs84", "gcj02")
    body = client.get("/v1/locate", params={"lon": float(gx), "lat": float(gy), "crs": "gcj02"}).json()
    assert body["grid"]["code"] == grid.code
    assert body["point"]["lon"] == pytest.approx(lon, abs=1e-8)


@pytest.mark.parametrize("crs", ["bd09", "cgcs2000", "EPSG:4490"])
def test_other_geographic_crs_find_the_same_grid(client, city, crs):
    grid, lon, lat = _a_grid(city)
    x, y = transform_xy(lon, lat, "wgs84", crs)
    body = client.get("/v1/locate", params={"lon": float(x), "lat": float(y), "crs": crs}).json()
    assert body["grid"]["code"] == grid.code


def test_a_gauss_kruger_point_uses_x_and_y(client, city):
    grid, lon, lat = _a_grid(city)
    x, y = transform_xy(lon, lat, "wgs84", "EPSG:4548")
    body = client.get("/v1/locate", params={"x": float(x), "y": float(y), "crs": "EPSG:4548"}).json()
    assert body["grid"]["code"] == grid.code


def test_a_shared_boundary_point_says_so_and_follows_the_rule(client, city):
    a = city.layers["areas"]
    grids = a[a.level == "grid"]

    def shared_vertices():
        # an inner vertex of an edge two grids share: a point of both and of no third grid
        # (an edge's end may be a T-junction on a third grid's edge, not exactly on it)
        for _, first in grids.iterrows():
            for _, neighbour in grids[grids.geometry.touches(first.geometry)].iterrows():
                shared = shapely.line_merge(first.geometry.intersection(neighbour.geometry))
                for line in shapely.get_parts(shared):
                    if line.geom_type == "LineString" and len(line.coords) >= 3:
                        return first, neighbour, line.coords[1]
        raise AssertionError("no two grids share an edge of three vertices")

    first, neighbour, (x, y) = shared_vertices()
    body = client.get("/v1/locate", params={"lon": x, "lat": y}).json()
    assert body["on_boundary"] is True
    assert body["grid"]["code"] == min(first.code, neighbour.code)


@pytest.mark.parametrize(("params", "message"), [
    ({"lon": 35.41, "lat": 116.59}, "swapped"),
    ({"lon": 116.5, "lat": 95}, "out of range"),
    ({"lon": 200, "lat": 35}, "out of range"),
    ({"lon": "nan", "lat": 35}, "finite"),
    ({"lon": "inf", "lat": 35}, "finite"),
    ({"lon": 116.5, "lat": 35.4, "crs": "mars"}, "unknown CRS"),
    ({"lon": 116.5, "lat": 35.4, "crs": "EPSG:4548"}, "projected: send x"),
    ({"x": 1, "y": 2, "crs": "EPSG:4548"}, "outside where EPSG:4548 is used"),
    ({"lat": 35.4}, "send lon and lat"),
    ({"lon": "east", "lat": 35.4}, "lon"),
])
def test_invalid_input_is_422_saying_what_is_wrong(client, params, message):
    response = client.get("/v1/locate", params=params)
    assert response.status_code == 422
    body = response.json()
    assert message in body["error"] and body["error_zh"]


def test_outside_every_grid_is_404_with_the_nearest_grid(client):
    response = client.get("/v1/locate", params={"lon": 116.2, "lat": 35.4})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "outside_grids"
    assert body["nearest"]["grid"]["code"].startswith("370811")
    assert body["nearest"]["distance_m"] > 1000


def test_the_postgis_engine_gives_the_same_answer(client, city):
    _grid, lon, lat = _a_grid(city)
    fast = client.get("/v1/locate", params={"lon": lon, "lat": lat}).json()
    slow = client.get("/v1/locate", params={"lon": lon, "lat": lat, "engine": "postgis"}).json()
    assert fast == slow


def test_at_a_past_date_answers_with_the_boundaries_then(client, engine, city):
    grid, lon, lat = _a_grid(city)
    with engine.begin() as conn:
        conn.execute(text("UPDATE generations SET effective_from = '2024-01-01'"))
    with session_scope(engine) as session:
        active = generations.active(session)
        draft = generations.create_draft(session, "redrawn", copy_from=active)
        session.execute(text("UPDATE areas SET name = name || '（新）' "
                             "WHERE generation_id = :g AND code = :c"), {"g": draft.id, "c": grid.code})
        generations.publish(session, draft, __import__("datetime").date(2025, 1, 1))
    assert eventually(lambda: client.get("/v1/locate", params={"lon": lon, "lat": lat}).json()
                      ["grid"]["name"] == grid["name"] + "（新）")  # the NOTIFY listener's swap
    then = client.get("/v1/locate", params={"lon": lon, "lat": lat, "at": "2024-06-01"}).json()
    assert then["grid"]["name"] == grid["name"]
    assert then["generation"]["status"] == "retired"
    assert client.get("/v1/locate", params={"lon": lon, "lat": lat, "at": "2020-01-01"}).status_code == 404


def test_batch_csv_streams_rows_back_in_order_with_row_errors(client, city):
    _grid, lon, lat = _a_grid(city)
    body = f"id,lon,lat\na,{lon},{lat}\nb,abc,35\nc,116.2,35.4\nd,35.4,116.5\n"
    response = client.post("/v1/locate/batch", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[0]["grid_code"] and not rows[0]["error"]
    assert "not a number" in rows[1]["error"]
    assert rows[2]["error"] == "not in any grid"
    assert "swapped" in rows[3]["error"]


def test_batch_csv_keeps_a_quoted_line_break_inside_its_record(client, city):
    """An Excel export with a note over two lines: one record in, one record out (this used to
    fail the whole body)."""
    grid, lon, lat = _a_grid(city)
    body = f'id,note,lon,lat\na,"东门\n第二行",{lon},{lat}\nb,,{lon},{lat}\n'
    response = client.post("/v1/locate/batch", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["id"], r["note"], r["grid_code"]) for r in rows] == [
        ("a", "东门\n第二行", grid.code), ("b", "", grid.code)]


def test_batch_json_array_accepts_objects_and_pairs(client, city):
    grid, lon, lat = _a_grid(city)
    payload = [[lon, lat], {"id": 7, "lon": lon, "lat": lat}, "nonsense"]
    rows = client.post("/v1/locate/batch", json=payload).json()
    assert [r.get("grid", {}).get("code") for r in rows] == [grid.code, grid.code, None]
    assert rows[1]["id"] == 7 and "cannot read" in rows[2]["error"]


def test_batch_geojson_adds_the_answer_to_each_feature(client, city):
    grid, lon, lat = _a_grid(city)
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "f1", "properties": {"note": "x"},
         "geometry": {"type": "Point", "coordinates": [lon, lat]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString",
                                                            "coordinates": [[0, 0], [1, 1]]}},
    ]}
    out = client.post("/v1/locate/batch", content=json.dumps(fc),
                      headers={"content-type": "application/geo+json"}).json()
    assert out["type"] == "FeatureCollection"
    assert out["features"][0]["properties"]["grid"]["code"] == grid.code
    assert out["features"][0]["properties"]["note"] == "x"
    assert "Point" in out["features"][1]["properties"]["error"]


def test_batch_ndjson_in_gcj02(client, city):
    grid, lon, lat = _a_grid(city)
    gx, gy = transform_xy(lon, lat, "wgs84", "gcj02")
    body = json.dumps({"lon": float(gx), "lat": float(gy)}) + "\n" + "{broken\n"
    response = client.post("/v1/locate/batch", params={"crs": "gcj02"}, content=body,
                           headers={"content-type": "application/x-ndjson"})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["grid"]["code"] == grid.code
    assert lines[1]["error"] == "line 2 is not JSON"


def test_batch_with_an_unknown_crs_fails_whole_with_422(client):
    response = client.post("/v1/locate/batch", params={"crs": "mars"}, json=[[116.5, 35.4]])
    assert response.status_code == 422


def test_batch_that_is_not_json_or_csv_is_422(client):
    response = client.post("/v1/locate/batch", content=b"\x00\x01garbage",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not JSON" in response.json()["error"]


def test_cli_locate_writes_the_same_format_in_the_same_order(settings_env, engine, city, tmp_path):
    from typer.testing import CliRunner

    from gridmap.cli import app

    assert write_validated(engine, city).ok
    grid, lon, lat = _a_grid(city)
    source = tmp_path / "points.ndjson"
    source.write_text(json.dumps({"id": 1, "lon": lon, "lat": lat}) + "\n"
                      + json.dumps({"id": 2, "lon": 116.2, "lat": 35.4}) + "\n", encoding="utf-8")
    target = tmp_path / "out.ndjson"
    result = CliRunner().invoke(app, ["locate", str(source), "--out", str(target)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[0]["grid"]["code"] == grid.code and rows[1]["error"] == "not in any grid"


def test_cli_locate_csv_follows_the_database_not_its_saved_locator(settings_env, engine, city,
                                                                    tmp_path, monkeypatch):
    """The CSV command keeps its locator on disk between runs; a worker renamed in the database
    shows in the next run's answers (the snapshot's name is a digest of what it stands for)."""
    from typer.testing import CliRunner

    from gridmap.cli import app
    from gridmap.settings import get_settings

    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    assert write_validated(engine, city).ok
    grid, lon, lat = _a_grid(city)
    source = tmp_path / "points.csv"
    source.write_text(f"id,lon,lat\n1,{lon},{lat}\n2,116.2,35.4\n", encoding="utf-8")
    target = tmp_path / "out.csv"

    def run() -> list[dict]:
        result = CliRunner().invoke(app, ["locate", str(source), "--out", str(target)])
        assert result.exit_code == 0, result.output
        return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))

    first = run()
    assert first[0]["grid_code"] == grid.code and first[1]["error"] == "not in any grid"
    saved = list((tmp_path / "home" / "cache").glob("locator-*.npz"))
    assert len(saved) == 1 and (saved[0].stat().st_mode & 0o777) == 0o600
    assert run() == first  # read back from the snapshot: the same answers
    with engine.begin() as conn:
        conn.execute(text("UPDATE workers SET name = '改名测试' WHERE code = :c"),
                     {"c": first[0]["worker_code"]})
    assert run()[0]["worker_name"] == "改名测试"
    assert [p.name for p in (tmp_path / "home" / "cache").glob("locator-*.npz")] != [saved[0].name]
