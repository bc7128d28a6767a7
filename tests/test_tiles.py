"""Vector tiles from PostGIS, read back by a real MVT client (GDAL's ogrinfo)."""

import math
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from tests.test_boundary import BOUNDARY


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


@pytest.fixture
def client_and_building(db_url, engine):
    city = generate(BOUNDARY, scale=0.05)
    assert write_validated(engine, city).ok
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
