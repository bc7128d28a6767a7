"""A department's thematic layer is one declaration plus its table: declared here (消防栓, fire
hydrants, with the table defined in the test), it appears in import/export, the OGC API
collections, the vector tiles and the coverage map's layer control, with no other file changed."""

from __future__ import annotations

import json
import math

import pytest
from fastapi.testclient import TestClient
from geoalchemy2 import Geometry
from sqlalchemy import Column, Float, Integer, String, Table
from sqlalchemy.dialects.postgresql import JSONB

from api.app import create_app
from layers.access import users
from layers.interchange.importer import export_path, import_path, write_validated
from layers.registry import FieldSpec, LayerSpec, Overlay, registered
from layers.storage.db import session_scope
from layers.storage.models import Base
from tests.support import small_city

HYDRANTS = LayerSpec(
    "hydrants", "消防栓", "hydrants", ("Point",),
    (FieldSpec("code", str, required=True), FieldSpec("name", str, required=True),
     FieldSpec("pressure_mpa", float)),
    style={"color": "#b91c1c", "radius": 5},
    read_role="public",  # where the hydrants are is for everyone to know
    overlay=Overlay("消防栓", show=True),
)


@pytest.fixture
def hydrant_layer(engine):
    table = Table(
        "hydrants", Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("code", String(40), nullable=False, unique=True),
        Column("name", String(200), nullable=False),
        Column("pressure_mpa", Float),
        Column("properties", JSONB, nullable=False, server_default="{}"),
        Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
    )
    table.create(engine)
    try:
        with registered(HYDRANTS):
            yield HYDRANTS
    finally:
        Base.metadata.remove(table)


@pytest.fixture
def city_with_hydrants(engine, hydrant_layer, tmp_path):
    city = small_city()
    assert write_validated(engine, city).ok
    grid = city.layers["areas"].query("level == 'grid'").iloc[0]
    inside = grid.geometry.representative_point()
    folder = tmp_path / "hydrants_import"
    folder.mkdir()
    (folder / "hydrants.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [inside.x, inside.y]},
         "properties": {"code": "XFS0001", "name": "太白楼路消防栓", "pressure_mpa": 0.35,
                        "owner": "消防救援大队"}}]}, ensure_ascii=False), encoding="utf-8")
    outcome = import_path(engine, folder)
    assert outcome.ok, outcome.report
    return inside


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def test_a_declared_layer_is_imported_and_exported(engine, city_with_hydrants, tmp_path):
    written = export_path(engine, tmp_path / "out", "geojson")
    exported = json.loads((tmp_path / "out" / "hydrants.geojson").read_text(encoding="utf-8"))
    assert tmp_path / "out" / "hydrants.geojson" in written
    props = exported["features"][0]["properties"]
    assert props["code"] == "XFS0001" and props["pressure_mpa"] == 0.35
    assert props["owner"] == "消防救援大队"  # an undeclared column travels in properties


def test_a_declared_layer_is_served_as_collection_tiles_and_map_overlay(db_url, engine,
                                                                         city_with_hydrants):
    point = city_with_hydrants
    with session_scope(engine) as session:
        _user, token = users.add(session, "qgis", "worker", "370811")
    with TestClient(create_app(url=db_url)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        ids = [c["id"] for c in client.get("/ogc/collections", headers=auth).json()["collections"]]
        assert "hydrants" in ids
        items = client.get("/ogc/collections/hydrants/items", headers=auth).json()
        assert items["features"][0]["properties"]["name"] == "太白楼路消防栓"

        x, y = _tile_of(point.x, point.y, 16)
        tile = client.get(f"/tiles/hydrants/16/{x}/{y}.pbf")
        assert tile.status_code == 200 and len(tile.content) > 0
        assert b"XFS0001" in tile.content

        page = client.get("/map/coverage").text
        # the layer's name and features travel as JSON (non-ASCII written as escapes)
        assert json.dumps("消防栓")[1:-1] in page and json.dumps("太白楼路消防栓") in page
