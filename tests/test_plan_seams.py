"""Seams between planning units: units the unit graph has as neighbours are drawn in one piece
when they are painted into one grid (the union closes seams of nearly collinear edges), and
units that only meet at a corner are no neighbours (gis/units.py, gis/unit_graph.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from gis.unit_graph import network
from gis.units import union_of_units, units_of_grid
from layers.storage.db import session_scope
from tests.support import small_city

BENT = 5e-9  # degrees: how far a unit's side of a common edge is bent off the other's


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


def _bent(unit: shapely.Polygon, p: tuple, q: tuple, depth: float) -> shapely.Polygon:
    """``unit`` with its edge p→q (either way round) bent into it at the middle by ``depth``."""
    ring = list(unit.exterior.coords)[:-1]
    n = len(ring)
    k = next(k for k in range(n) if {ring[k], ring[(k + 1) % n]} == {p, q})
    (x0, y0), (x1, y1) = ring[k], ring[(k + 1) % n]
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    if not unit.contains(shapely.Point(mx + nx * 1e-7, my + ny * 1e-7)):
        nx, ny = -nx, -ny
    ring.insert(k + 1, (mx + nx * depth, my + ny * depth))
    return shapely.Polygon(ring)


def test_two_units_whose_common_edge_is_bent_5e_9_apart_are_drawn_in_one_piece():
    # the left box's side of the common edge is one straight edge, the right one's two edges
    # bent 5e-9° away from it: on the 1e-9° grid alone the union comes apart at both ends
    left = shapely.box(0.0, 0.0, 0.001, 0.001)
    right = _bent(shapely.box(0.001, 0.0, 0.002, 0.001), (0.001, 0.0), (0.001, 0.001), BENT)
    assert len(shapely.get_parts(shapely.union_all([left, right], grid_size=1e-9))) == 2
    drawn = union_of_units([left, right])
    assert drawn.geom_type == "Polygon" and not drawn.interiors
    # … and the outline is the two units' outline: nothing moved but the seam
    assert shapely.hausdorff_distance(drawn.exterior, shapely.box(0, 0, 0.002, 0.001).exterior) < 1e-12


def test_units_that_only_meet_at_a_corner_are_not_neighbours():
    # two units meeting at one point, their edges a few degrees apart on both sides of it: the
    # boundaries stay within a millimetre for more than a centimetre, but no edge is common
    p = (116.5967, 35.4582)
    below = shapely.Polygon([p, (p[0] - 0.0035, p[1] - 0.00054), (p[0] - 0.0035, p[1] - 0.002),
                             (p[0] + 0.0028, p[1] - 0.002), (p[0] + 0.0028, p[1] + 0.00001)])
    above = shapely.Polygon([p, (p[0] + 0.0028, p[1] + 0.00043), (p[0] + 0.0028, p[1] + 0.002),
                             (p[0] - 0.0049, p[1] + 0.002), (p[0] - 0.0049, p[1] - 0.0000165)])
    assert below.intersection(above).geom_type == "Point"
    net = network([1, 2], [below, above], [0, 0], [])
    assert net.edges == [{}, {}]


def test_every_pair_of_neighbours_in_the_demos_unit_graph_is_drawn_in_one_piece():
    # 370811013001 had two units meeting at a corner as neighbours; 370811016001 a union that
    # came out as a MultiPolygon of one part
    city = small_city()
    areas, b = city.layers["areas"], city.layers["buildings"]
    shapes = np.asarray(b.geometry.values, dtype=object)
    points, ids = shapely.point_on_surface(shapes), np.arange(len(b))
    lines = np.asarray([g for k in ("roads", "alleys") for g in city.layers[k].geometry], dtype=object)
    for community in ("370811013001", "370811016001"):
        grids = areas[(areas.level == "grid") & areas.code.str.startswith(community)]
        units = []
        for code, geom in zip(grids.code, grids.geometry, strict=True):
            near = shapely.intersects(points, geom)
            units += units_of_grid(code, geom, list(lines[shapely.intersects(lines, geom)]),
                                   points[near], ids[near], shapes[near])
        geoms = [u.geom for u in units]
        net = network(list(range(len(units))), geoms, [0] * len(units), [])
        split = [(i, j) for i, row in enumerate(net.edges) for j in row
                 if i < j and union_of_units([geoms[i], geoms[j]]).geom_type != "Polygon"]
        assert split == [], community


def test_a_unit_painted_into_the_grid_beside_it_makes_one_piece_though_their_edge_is_bent(env, engine):
    # real units of the demo, one of them bent 5e-9° off the common edge (the seam the rebalance
    # of 370811018002 met): painting it into its neighbour's grid through the page's path draws
    # that grid in one piece, and validation has nothing to say about its pieces
    client, h, _other, plan, community, pair = env
    a = pair.code.iloc[0]
    features = client.get(f"/v1/plans/{plan['id']}/units", headers=h,
                          params={"area": community}).json()["features"]
    shape = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in features}
    grid_of = {f["id"]: f["properties"]["grid"] for f in features}
    with session_scope(engine) as session:  # full precision (the page's GeoJSON has 7 digits)
        shape |= {i: shapely.from_wkb(bytes(w)) for i, w in session.execute(text(
            "SELECT id, ST_AsBinary(geom) FROM plan_units WHERE plan_id = :p"), {"p": plan["id"]})}
    inside_a = union_of_units([g for i, g in shape.items() if grid_of[i] == a])

    def common_edge(i: int):
        """The unit's one straight edge along grid a, if that is all they share."""
        seam = shape[i].boundary.intersection(inside_a.buffer(1e-9))
        if seam.geom_type != "LineString":
            return None
        ring = list(shape[i].exterior.coords)
        along = [(c, d) for c, d in itertools.pairwise(ring)
                 if max(inside_a.distance(shapely.Point(c)), inside_a.distance(shapely.Point(d))) < 1e-9]
        if len(along) != 1:
            return None
        edge = shapely.LineString(along[0])
        return along[0] if edge.length > 1e-4 and seam.length - edge.length < 1e-8 else None

    moved, (p, q) = next((i, e) for i in sorted(shape) if grid_of[i] != a
                         and (e := common_edge(i)) is not None)
    bent = _bent(shape[moved], p, q, BENT)
    with session_scope(engine) as session:
        session.execute(text("UPDATE plan_units SET geom = ST_GeomFromText(:wkt, 4326) WHERE id = :i"),
                        {"wkt": bent.wkt, "i": moved})
    ids = sorted(shape)
    net = network(ids, [bent if i == moved else shape[i] for i in ids], [0] * len(ids), [])
    k = ids.index(moved)
    assert any(grid_of[ids[j]] == a for j in net.edges[k])  # neighbours in the unit graph …
    members = [g for i, g in shape.items() if grid_of[i] == a] + [bent]
    assert len(shapely.get_parts(shapely.union_all(members, grid_size=1e-9))) == 2  # … apart so
    r = client.post(f"/v1/plans/{plan['id']}/assign", headers=h, json={"units": [moved], "grid": a})
    assert r.status_code == 200, r.text
    drawn = shapely.geometry.shape(next(g for g in r.json()["changed"] if g["code"] == a)["geometry"])
    assert drawn.geom_type == "Polygon"
    assert not [p for p in r.json()["validation"]["problems"]
                if p["kind"] == "not_contiguous" and a in p["grids"]]
