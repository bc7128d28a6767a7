"""gis/shapes.py: a client's GeoJSON read with bounded work, refused with a reason (pure
geometry, no database)."""

from __future__ import annotations

import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from gis.shapes import ShapeError, ShapeTooLarge, parse

POLY = ("Polygon", "MultiPolygon")


def _ring(corners: list[tuple[float, float]]) -> list[list[float]]:
    return [list(c) for c in corners] + [list(corners[0])]


@given(st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=3, max_size=40))
def test_any_closed_ring_of_in_range_positions_parses_to_the_same_coordinates(corners):
    shape = parse({"type": "Polygon", "coordinates": [_ring(corners)]}, POLY, max_vertices=40)
    assert shapely.get_coordinates(shape).tolist() == [list(c) for c in corners] + [list(corners[0])]


@given(st.integers(3, 60), st.integers(3, 60))
def test_the_limit_counts_corners_not_the_closing_repeat(corners, limit):
    ring = _ring([(i * 1e-4, (i % 2) * 1e-4) for i in range(corners)])
    geometry = {"type": "Polygon", "coordinates": [ring]}
    if corners <= limit:
        assert parse(geometry, POLY, max_vertices=limit).geom_type == "Polygon"
    else:
        with pytest.raises(ShapeTooLarge) as caught:
            parse(geometry, POLY, max_vertices=limit)
        assert caught.value.limit == limit and f"{limit:,}" in str(caught.value)


@pytest.mark.parametrize(("geometry", "says"), [
    ({"type": "LineString", "coordinates": [[116.6, 35.4]]}, "two different points"),
    ({"type": "LineString", "coordinates": [[116.6, 35.4], [116.6, 35.4]]}, "two different points"),
    ({"type": "Polygon", "coordinates": [[[116.6, 91], [116.7, 91], [116.7, 92], [116.6, 91]]]},
     "latitude 91"),
    ({"type": "Polygon", "coordinates": [[[181, 35], [182, 35], [182, 36], [181, 35]]]},
     "longitude 181"),
    ({"type": "Polygon", "coordinates": [[[116.6, 35], [116.7, 35], [116.7, 36]]]}, "four positions"),
    ({"type": "Polygon", "coordinates": [[[116.6, 35], [116.7, 35], [116.7, 36], [116.6, 36]]]},
     "end where it starts"),
    ({"type": "Polygon", "coordinates": [[[116.6, "35"], [116.7, 35], [116.7, 36], [116.6, 35]]]},
     "two numbers"),
    ({"type": "Polygon", "coordinates": [[[116.6, float("nan")], [116.7, 35], [116.7, 36],
                                          [116.6, 35]]]}, "finite"),
    ({"type": "Polygon", "coordinates": []}, "empty or missing"),
    ({"type": "Point", "coordinates": [116.6, 35.4]}, "not 'Point'"),
    ("POLYGON((0 0, 1 0, 1 1, 0 0))", "not 'str'"),
])
def test_a_bad_geometry_is_refused_saying_what_to_fix(geometry, says):
    kinds = ("LineString",) if isinstance(geometry, dict) and geometry["type"] == "LineString" else POLY
    with pytest.raises(ShapeError) as caught:
        parse(geometry, kinds, max_vertices=100)
    assert says in str(caught.value)


def test_projected_coordinates_are_not_held_to_degree_ranges():
    square = _ring([(500_000, 3_900_000), (500_100, 3_900_000), (500_100, 3_900_100)])
    assert parse({"type": "Polygon", "coordinates": [square]}, POLY, max_vertices=10,
                 geographic=False).area == 5_000
