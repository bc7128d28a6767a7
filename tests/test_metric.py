"""Areas, lengths and distances in metres."""

import pytest
import shapely

from gis.crs import transform_geometry
from gis.metric import area_m2, distance_m, gauss_kruger_epsg, length_m


def test_one_degree_of_latitude_at_35n_is_about_111_km():
    assert distance_m(116.5, 34.5, 116.5, 35.5) == pytest.approx(110_950, rel=1e-3)


def test_geodesic_area_agrees_with_the_gauss_kruger_plane_for_a_small_cell():
    cell = shapely.box(116.58, 35.40, 116.59, 35.41)  # ≈ 0.9 km × 1.1 km in Jining
    planar = transform_geometry(cell, "wgs84", "EPSG:4548").area
    assert area_m2(cell) == pytest.approx(planar, rel=1e-3)


def test_length_of_a_line_is_in_metres():
    line = shapely.LineString([(116.5, 35.4), (116.5, 35.5)])
    assert length_m(line) == pytest.approx(11_095, rel=1e-3)


@pytest.mark.parametrize(("lon", "epsg"), [(116.6, 4548), (75.2, 4534), (121.4, 4549), (122.0, 4550)])
def test_gauss_kruger_zone_is_the_nearest_three_degree_meridian(lon, epsg):
    assert gauss_kruger_epsg(lon) == epsg


def test_gauss_kruger_zone_outside_china_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        gauss_kruger_epsg(10.0)
