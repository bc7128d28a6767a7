"""The in-memory locator against PostGIS ST_Covers: zero disagreements, boundaries included.

PostGIS's answer for a point is the smallest grid code among the grids that ST_Covers it (the
documented tie-break rule), and it is on the boundary when that grid does not ST_Contain it.
"""

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.locator import GridIndex
from layers.interchange.importer import write_validated
from tests.support import disagreements, full_city, scratch_database

pytestmark = pytest.mark.slow  # the full demo city against PostGIS


@pytest.fixture(scope="module")
def demo(server_url, template_url):
    """The full demo city in its own database, and the locator built from PostGIS for it."""
    from layers.locating.locators import LocatorRegistry

    with scratch_database(server_url, pool_size=2) as (_url, engine):
        assert write_validated(engine, full_city()).ok
        yield engine, LocatorRegistry(engine).active()


def _rings(locator):
    for geom in locator.index.geoms:
        for poly in getattr(geom, "geoms", [geom]):
            yield poly.exterior
            yield from poly.interiors


def test_random_points_over_the_district(demo):
    engine, locator = demo
    rng = np.random.default_rng(1)
    x0, y0, x1, y1 = shapely.total_bounds(list(locator.index.geoms))
    lon, lat = rng.uniform(x0, x1, 50_000), rng.uniform(y0, y1, 50_000)
    assert disagreements(engine, locator, lon, lat) == []


def test_every_polygon_vertex(demo):
    engine, locator = demo
    coords = np.vstack([np.asarray(r.coords) for r in _rings(locator)])
    coords = np.unique(coords, axis=0)
    assert disagreements(engine, locator, coords[:, 0], coords[:, 1]) == []
    # A vertex where an edge of a neighbour passes by (a T-junction) may, in floating point,
    # fall a hair inside that neighbour: PostGIS says so too. Nearly all are on a boundary.
    assert locator.index.locate(coords[:, 0], coords[:, 1]).on_boundary.mean() > 0.9


def test_every_edge_midpoint(demo):
    engine, locator = demo
    segs = [np.asarray(r.coords) for r in _rings(locator)]
    mids = np.vstack([(s[:-1] + s[1:]) / 2 for s in segs])
    assert disagreements(engine, locator, mids[:, 0], mids[:, 1]) == []


@pytest.mark.parametrize("offset", [1e-7, 1e-9, 1e-11, 1e-13])
def test_points_just_off_every_edge_on_both_sides(demo, offset):
    engine, locator = demo
    segs = [np.asarray(r.coords) for r in _rings(locator)]
    a = np.vstack([s[:-1] for s in segs])
    b = np.vstack([s[1:] for s in segs])
    t = np.random.default_rng(2).uniform(0.1, 0.9, len(a))[:, None]
    on = a + (b - a) * t
    normal = np.column_stack([-(b - a)[:, 1], (b - a)[:, 0]])
    normal /= np.linalg.norm(normal, axis=1)[:, None]
    pts = np.vstack([on + normal * offset, on - normal * offset])
    assert disagreements(engine, locator, pts[:, 0], pts[:, 1]) == []


def test_points_just_around_every_vertex(demo):
    engine, locator = demo
    coords = np.unique(np.vstack([np.asarray(r.coords) for r in _rings(locator)]), axis=0)
    eps = 1e-10
    shifts = np.array([[eps, 0], [-eps, 0], [0, eps], [0, -eps], [eps, eps], [-eps, -eps]])
    pts = (coords[:, None, :] + shifts[None, :, :]).reshape(-1, 2)
    assert disagreements(engine, locator, pts[:, 0], pts[:, 1]) == []


def test_enclaves_and_multipart_grids(demo):
    engine, locator = demo
    pts = []
    dedicated = multipart = 0
    for code, geom in zip(locator.index.codes, locator.index.geoms, strict=True):
        parts = list(getattr(geom, "geoms", [geom]))
        if len(parts) > 1:
            multipart += 1
        if locator.areas[code]["kind"] == "dedicated":
            dedicated += 1
        for poly in parts:
            pts.append(poly.representative_point().coords[0])
            for hole in poly.interiors:
                pts.append(shapely.Polygon(hole).representative_point().coords[0])
                pts.extend(np.asarray(hole.coords)[:-1])
    assert dedicated >= 30 and multipart >= 1
    pts = np.asarray(pts)
    assert disagreements(engine, locator, pts[:, 0], pts[:, 1]) == []


def test_points_outside_the_district_are_in_no_grid(demo):
    engine, locator = demo
    lon = np.array([116.0, 117.2, 116.6, 116.6, 120.0, np.nan])
    lat = np.array([35.4, 35.4, 34.9, 35.9, 30.0, 35.4])
    assert (locator.index.locate(lon, lat).grid == -1).all()
    assert disagreements(engine, locator, lon[:-1], lat[:-1]) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(116.39, 116.76), st.floats(35.12, 35.57))
def test_any_point_agrees_with_postgis(demo, lon, lat):
    engine, locator = demo
    assert disagreements(engine, locator, [lon], [lat]) == []


def test_a_shared_edge_point_goes_to_the_smallest_code():
    left = shapely.box(0, 0, 1, 1)
    right = shapely.box(1, 0, 2, 1)
    index = GridIndex(["B2", "A1"], [right, left])
    g, on_boundary = index.locate_one(1.0, 0.5)
    assert index.codes[g] == "A1" and on_boundary
    g, on_boundary = index.locate_one(1.5, 0.5)
    assert index.codes[g] == "B2" and not on_boundary


def _replayed(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> tuple[list, list]:
    """liblwgeom's answer by brute force: every grid in code order, behind its bounding box."""
    from gis.locator import _classify

    s = index.arrays()
    grids, boundary = [], []
    for x, y in zip(lon, lat, strict=True):
        found = -1, False
        for g in range(len(index)):
            x0, y0, x1, y1 = s["bbox"][g]
            if x0 <= x <= x1 and y0 <= y <= y1:
                r = _classify(x, y, g, s["grid_parts"], s["part_rings"], s["ring_verts"],
                              s["vx"], s["vy"])
                if r >= 0:
                    found = g, r == 0
                    break
        grids.append(found[0])
        boundary.append(found[1])
    return grids, boundary


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_trie_answers_as_liblwgeoms_replay_over_every_grid(seed):
    """Random tessellations with a hole and a segment shorter than 1e-12° (liblwgeom skips it):
    random points, every vertex and every midpoint get the brute-force replay's answer."""
    rng = np.random.default_rng(seed)
    cells = list(shapely.voronoi_polygons(shapely.MultiPoint(rng.uniform(0, 1, (25, 2)))).geoms)
    cells = [c.intersection(shapely.box(0, 0, 1, 1)) for c in cells]
    hole = shapely.box(0.45, 0.45, 0.46, 0.46)
    cells = [c.difference(hole) for c in cells] + [hole]
    ring = np.asarray(cells[0].exterior.coords)
    a = ring[0]  # a tiny segment: the first vertex repeated a hair away
    cells[0] = shapely.Polygon(np.vstack([a, a + np.array([0.0, 1e-13]), ring[1:]]))
    index = GridIndex([f"G{i:03d}" for i in range(len(cells))], cells)
    rings = [np.asarray(r.coords) for c in index.geoms
             for p in getattr(c, "geoms", [c]) for r in (p.exterior, *p.interiors)]
    pts = np.vstack([rng.uniform(-0.05, 1.05, (600, 2)), *rings,
                     *[(r[:-1] + r[1:]) / 2 for r in rings],
                     np.column_stack([rng.uniform(-0.1, 1, 50), np.full(50, a[1])])])
    found = index.locate(pts[:, 0], pts[:, 1])
    grids, boundary = _replayed(index, pts[:, 0], pts[:, 1])
    assert found.grid.tolist() == grids
    assert found.on_boundary.tolist() == boundary
