"""GCJ-02 / BD-09: the public forward formulas and our exact iterative inverses."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gis import chinese_offsets as co
from gis.metric import distance_m

# Inside the conventional China box, away from its edges where the offset switches off.
china_lon = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=3.9, max_value=53.5, allow_nan=False)
ONE_CM = 0.01


def test_forward_matches_the_published_reference_values():
    # wandergis/coordtransform's README values for (116.404, 39.915)
    assert np.allclose(co.wgs84_to_gcj02(116.404, 39.915),
                       (116.41024449916938, 39.91640428150164), atol=1e-12, rtol=0)
    assert np.allclose(co.gcj02_to_bd09(116.404, 39.915),
                       (116.41036949371029, 39.92133699351021), atol=1e-12, rtol=0)


@settings(max_examples=500)
@given(china_lon, china_lat)
def test_gcj02_inverse_round_trip_is_within_one_centimetre(lon, lat):
    back = co.gcj02_to_wgs84(*co.wgs84_to_gcj02(lon, lat))
    assert distance_m(lon, lat, *back) <= ONE_CM


@settings(max_examples=500)
@given(china_lon, china_lat)
def test_gcj02_to_wgs84_then_forward_reproduces_the_gcj02_input(lon, lat):
    again = co.wgs84_to_gcj02(*co.gcj02_to_wgs84(lon, lat))
    assert distance_m(lon, lat, *again) <= ONE_CM


@settings(max_examples=500)
@given(china_lon, china_lat)
def test_bd09_inverse_round_trip_is_within_one_centimetre(lon, lat):
    back = co.bd09_to_wgs84(*co.wgs84_to_bd09(lon, lat))
    assert distance_m(lon, lat, *back) <= ONE_CM


def test_the_offset_is_hundreds_of_metres_in_jining():
    shift = distance_m(116.587, 35.414, *co.wgs84_to_gcj02(116.587, 35.414))
    assert 100 < shift < 1000


@given(st.floats(min_value=-180, max_value=180), st.floats(min_value=-89, max_value=-1))
def test_points_outside_china_pass_through_unchanged(lon, lat):
    for fn in (co.wgs84_to_gcj02, co.gcj02_to_wgs84, co.wgs84_to_bd09, co.bd09_to_wgs84):
        x, y = fn(lon, lat)
        assert (float(x), float(y)) == (lon, lat)


def test_arrays_convert_elementwise_and_keep_their_shape():
    lon = np.array([[116.5, 151.2], [120.1, 2.35]])  # Sydney and Paris are outside China
    lat = np.array([[35.4, -33.9], [30.2, 48.85]])
    x, y = co.gcj02_to_wgs84(lon, lat)
    assert x.shape == (2, 2)
    assert x[0, 1] == 151.2 and y[1, 1] == 48.85
    assert x[0, 0] != 116.5
