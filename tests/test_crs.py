"""Parsing CRS names and transforming between any two of them."""

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.crs import UnknownCRSError, parse_crs, transform_geometry, transform_xy
from gis.metric import distance_m

CRS_NAMES = ["wgs84", "gcj02", "bd09", "cgcs2000", "EPSG:4548", "EPSG:3857", "EPSG:4490"]


@pytest.mark.parametrize(("text", "canonical"), [
    ("WGS84", "wgs84"), ("gcj-02", "gcj02"), ("BD09", "bd09"), ("cgcs2000", "cgcs2000"),
    ("EPSG:4326", "wgs84"), ("4490", "cgcs2000"), ("epsg:4548", "EPSG:4548"),
])
def test_names_and_epsg_codes_parse_to_one_canonical_crs(text, canonical):
    assert parse_crs(text).name == canonical


@pytest.mark.parametrize("bad", ["mars", "EPSG:999999", "EPSG:", "", "utm50"])
def test_unknown_crs_error_says_what_is_accepted(bad):
    with pytest.raises(UnknownCRSError, match="wgs84, gcj02, bd09, cgcs2000 or EPSG"):
        parse_crs(bad)


def test_cgcs2000_is_treated_as_identical_to_wgs84():
    assert transform_xy(116.5, 35.4, "cgcs2000", "wgs84") == (116.5, 35.4)


def test_gauss_kruger_zone_117_round_trips_jining_to_a_millimetre():
    x, y = transform_xy(116.587, 35.414, "wgs84", "EPSG:4548")
    assert 400_000 < x < 600_000 and 3_900_000 < y < 4_000_000
    lon, lat = transform_xy(x, y, "EPSG:4548", "wgs84")
    assert distance_m(116.587, 35.414, lon, lat) < 1e-3


@settings(max_examples=200)
@given(st.sampled_from(CRS_NAMES), st.sampled_from(CRS_NAMES),
       st.floats(116.2, 116.9), st.floats(35.0, 35.7))
def test_any_pair_of_crs_round_trips_within_one_centimetre(src, dst, lon, lat):
    x, y = transform_xy(lon, lat, "wgs84", src)
    x2, y2 = transform_xy(x, y, src, dst)
    lon2, lat2 = transform_xy(x2, y2, dst, "wgs84")
    assert distance_m(lon, lat, lon2, lat2) <= 0.01


def test_geometries_transform_vertex_by_vertex():
    square = shapely.box(116.5, 35.4, 116.51, 35.41)
    gcj = transform_geometry(square, "wgs84", "gcj02")
    back = transform_geometry(gcj, "gcj02", "wgs84")
    assert gcj.geom_type == "Polygon"
    assert not gcj.equals(square)
    assert np.allclose(shapely.get_coordinates(back), shapely.get_coordinates(square), atol=1e-9)
