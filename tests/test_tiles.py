"""Vector tiles from PostGIS, read back by a real MVT client (GDAL's ogrinfo)."""

import math
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support import small_city


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def client_and_building(db_url, engine):
    city = small_city()
    b = city.layers["buildings"]
    building = b[b.compound.notna()].iloc[0]
    with TestClient(create_app(url=db_url)) as client:
        yield client, building


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is needed")
def test_a_building_tile_is_valid_mvt_with_its_attributes(client_and_building, tmp_path):
    client, building = client_and_building
    p = building.geometry.representative_point()
    x, y = _tile_of(p.x, p.y, 16)
    response = client.get(f"/tiles/buildings/16/{x}/{y}.pbf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    path = tmp_path / "tile.pbf"
    path.write_bytes(response.content)
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-oo", f"X={x}", "-oo", f"Y={y}", "-oo", "Z=16",
                          f"MVT:{path}"], capture_output=True, text=True, check=True).stdout
    assert "Layer name: buildings" in out
    assert building["address"] in out


def test_on_a_gcj02_basemap_the_building_is_in_the_tile_of_its_gcj02_position(client_and_building):
    from gis.crs import transform_xy

    client, building = client_and_building
    p = building.geometry.representative_point()
    gx, gy = transform_xy(p.x, p.y, "wgs84", "gcj02")
    x, y = _tile_of(float(gx), float(gy), 17)
    shifted = client.get(f"/tiles/buildings/17/{x}/{y}.pbf", params={"datum": "gcj02"}).content
    plain = client.get(f"/tiles/buildings/17/{x}/{y}.pbf").content
    assert building["address"].encode() in shifted
    assert building["address"].encode() not in plain  # ~500 m away in WGS84


def test_an_unknown_layer_or_tile_is_404(client_and_building):
    client, _building = client_and_building
    assert client.get("/tiles/nope/1/0/0.pbf").status_code == 404
    assert client.get("/tiles/buildings/3/9/0.pbf").status_code == 404


def test_a_tilejson_document_says_where_the_tiles_are(client_and_building):
    client, *_ = client_and_building
    doc = client.get("/tiles/buildings.json").json()
    assert doc["tilejson"] == "3.0.0" and doc["tiles"][0].endswith("/tiles/buildings/{z}/{x}/{y}.pbf")
    assert doc["vector_layers"][0]["id"] == "buildings" and len(doc["bounds"]) == 4
    assert client.get("/tiles/cases.json").status_code == 401  # not public: a credential first


def test_a_tile_the_client_has_is_a_304_and_tiles_come_gzipped(client_and_building):
    client, building = client_and_building
    p = building.geometry.representative_point()
    x, y = _tile_of(p.x, p.y, 16)
    first = client.get(f"/tiles/buildings/16/{x}/{y}.pbf", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["etag"]
    if len(first.content) >= 1024:
        assert first.headers.get("content-encoding") == "gzip"
    again = client.get(f"/tiles/buildings/16/{x}/{y}.pbf",
                       headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def _mvt_features(content: bytes, tmp_path, z: int, x: int, y: int) -> list[dict]:
    """Each feature of a tile as GDAL's MVT driver reads it: its fields, and its MVT feature id
    as ``mvt_id``."""
    path = tmp_path / f"{z}-{x}-{y}.pbf"
    path.write_bytes(content)
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-oo", f"X={x}", "-oo", f"Y={y}", "-oo",
                          f"Z={z}", f"MVT:{path}"], capture_output=True, text=True,
                         check=True).stdout
    features: list[dict] = []
    for line in out.splitlines():
        if line.startswith("OGRFeature("):
            features.append({})
        elif features and " = " in line and line.startswith("  ") and "(" in line:
            name, value = line.strip().split(" = ", 1)
            features[-1][name.split(" (")[0]] = value
    return features


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is needed")
def test_every_building_in_a_tile_has_its_stable_integer_id_as_tilejson_says(
        client_and_building, engine, tmp_path):
    from sqlalchemy import text

    client, building = client_and_building
    doc = client.get("/tiles/buildings.json").json()
    assert doc["promoteId"] == "id" and "id" in doc["vector_layers"][0]["fields"]
    p = building.geometry.representative_point()
    x, y = _tile_of(p.x, p.y, 16)
    features = _mvt_features(client.get(f"/tiles/buildings/16/{x}/{y}.pbf").content, tmp_path,
                             16, x, y)
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM buildings")).all())
    mine = next(f for f in features if f["code"] == building["code"])
    assert int(mine["mvt_id"]) == int(mine["id"]) == ids[building["code"]]
    assert all(int(f["mvt_id"]) == ids[f["code"]] for f in features)


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is needed")
def test_a_grid_s_id_is_its_national_code_the_same_in_every_generation(client_and_building,
                                                                        tmp_path):
    client, building = client_and_building
    p = building.geometry.representative_point()
    x, y = _tile_of(p.x, p.y, 14)
    features = _mvt_features(client.get(f"/tiles/grids/14/{x}/{y}.pbf").content, tmp_path,
                             14, x, y)
    assert features and all(int(f["mvt_id"]) == int(f["code"]) == int(f["id"]) for f in features)


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is needed")
def test_below_z13_a_buildings_tile_drops_what_is_smaller_than_its_grid_and_carries_no_text(
        client_and_building, tmp_path):
    client, building = client_and_building
    p = building.geometry.representative_point()
    counts = {}
    for z in (10, 13):
        x, y = _tile_of(p.x, p.y, z)
        content = client.get(f"/tiles/buildings/{z}/{x}/{y}.pbf").content
        features = _mvt_features(content, tmp_path, z, x, y)
        counts[z] = len(features)
        assert (building["address"].encode() in content) == (z >= 13)
        assert all(f["mvt_id"] == f["id"] for f in features)
    assert counts[10] < counts[13]  # the z13 tile is a sixty-fourth of the z10 one


def test_an_empty_tile_is_a_cacheable_200_with_no_body(client_and_building):
    client, _building = client_and_building
    empty = client.get("/tiles/buildings/12/0/0.pbf")  # the other side of the world
    assert empty.status_code == 200 and empty.content == b""
    assert empty.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert empty.headers["cache-control"].startswith("public") and empty.headers["etag"]
    again = client.get("/tiles/buildings/12/0/0.pbf", headers={"If-None-Match": empty.headers["etag"]})
    assert again.status_code == 304
