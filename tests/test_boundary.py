"""The real Rencheng boundary: converted from GCJ-02, stored in WGS84, measured in metres."""

import json

import pytest
import shapely

from gis.metric import area_m2
from layers.boundaries import areas, generations
from layers.boundaries.areas import load_district_boundary
from layers.storage.db import session_scope
from tests.support import BOUNDARY


def _geometry() -> shapely.Geometry:
    return shapely.geometry.shape(json.loads(BOUNDARY.read_text())["features"][0]["geometry"])


def test_the_boundary_file_is_a_valid_areas_layer_in_wgs84():
    feature = json.loads(BOUNDARY.read_text())["features"][0]
    assert feature["properties"] == {"code": "370811", "name": "任城区", "level": "district",
                                     "parent_code": ""}
    geom = _geometry()
    assert geom.is_valid
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    assert 116.3 < min_lon < max_lon < 116.8 and 35.1 < min_lat < max_lat < 35.6


def test_the_boundary_contains_the_district_government_and_not_its_neighbours():
    geom = _geometry()
    # 任城区人民政府 (WGS84, approx.) is inside; 曲阜 and 嘉祥 town centres are not.
    assert geom.contains(shapely.Point(116.595, 35.405))
    assert not geom.contains(shapely.Point(116.99, 35.58))
    assert not geom.contains(shapely.Point(116.34, 35.41))


def test_loading_twice_writes_once(engine):
    with session_scope(engine) as session:
        gen, changed = load_district_boundary(session, BOUNDARY)
        assert changed and gen.status == "active"
    with session_scope(engine) as session:
        gen2, changed = load_district_boundary(session, BOUNDARY)
        assert not changed and gen2.id == gen.id


def test_postgis_area_in_km2_matches_the_geodesic_area(engine):
    with session_scope(engine) as session:
        load_district_boundary(session, BOUNDARY)
        info = areas.info(session, "370811", generations.active(session))
    assert info.area_km2 == pytest.approx(area_m2(_geometry()) / 1e6, rel=1e-5)
    assert 850 < info.area_km2 < 920  # official figure: about 881 km²
