"""Pure geometry of redrawing grids: replace one polygon and move its neighbours' shared edges
with it, split a polygon along a line, merge, pick the next free grid code. Geometries are WGS84
lon/lat (the storage CRS, where edges are straight and where PostGIS decides); tolerances are
degrees converted from metres by the caller (:func:`gis.topology.metres_to_degrees`).

Neighbours are found through an ``rtree`` index that edits update in place (insert/delete), unlike
shapely's STRtree, which has to be rebuilt after every change.
"""

from __future__ import annotations

import re

import shapely
from rtree import index as rtree_index
from shapely.ops import split as split_by_line

from gis.topology import polygonal
from gis.units import union_of_units


class RedrawError(ValueError):
    """An edit that cannot be made as asked; the message says what to change."""


class GridIndex:
    """Grid polygons by code, with a dynamic spatial index for neighbour queries."""

    def __init__(self, geoms: dict[str, shapely.Geometry]):
        self.geoms: dict[str, shapely.Geometry] = {}
        self._ids: dict[str, int] = {}
        self._codes: dict[int, str] = {}
        self._next = 0
        self._index = rtree_index.Index()
        for code, geom in geoms.items():
            self.put(code, geom)

    def put(self, code: str, geom: shapely.Geometry) -> None:
        self.remove(code)
        self._next += 1
        ident = self._next
        self._ids[code], self._codes[ident] = ident, code
        self.geoms[code] = geom
        self._index.insert(ident, geom.bounds)

    def remove(self, code: str) -> None:
        ident = self._ids.pop(code, None)
        if ident is not None:
            self._index.delete(ident, self.geoms[code].bounds)
            del self._codes[ident]
            del self.geoms[code]

    def near(self, geom: shapely.Geometry, distance: float = 0.0) -> list[str]:
        x0, y0, x1, y1 = geom.bounds
        hits = self._index.intersection((x0 - distance, y0 - distance, x1 + distance, y1 + distance))
        return sorted(self._codes[i] for i in hits)


def as_polygon(geom: shapely.Geometry, what: str) -> shapely.Geometry:
    """A valid (Multi)Polygon, or RedrawError saying what is wrong with it."""
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise RedrawError(f"{what} must be a Polygon or MultiPolygon, not {geom.geom_type}")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise RedrawError(f"{what} is not a valid polygon ({reason}); fix self-intersections")
    return geom


def replace(code: str, new: shapely.Geometry, grids: GridIndex, tolerance: float
            ) -> dict[str, shapely.Geometry]:
    """The grid's new polygon wins: its vertices snap to the neighbours' within ``tolerance``
    (so edges meant to be shared are shared exactly), and each neighbour loses what the new
    polygon now covers. Returns every changed polygon by code (the grid and its neighbours)."""
    neighbours = [c for c in grids.near(new, tolerance) if c != code]
    if neighbours:
        new = shapely.snap(new, shapely.union_all([grids.geoms[c] for c in neighbours]), tolerance)
        new = polygonal(shapely.make_valid(new))
    changed = {code: new}
    for other in neighbours:
        before = grids.geoms[other]
        # snapping may fold the neighbour's ring onto itself: make it valid before the overlay
        # (else GEOS stops with a TopologyException on a dense outline)
        snapped = polygonal(shapely.make_valid(shapely.snap(before, new, tolerance)))
        after = polygonal(shapely.make_valid(snapped.difference(new)))
        if after.is_empty:
            raise RedrawError(f"the new polygon covers grid {other} entirely; merge the two grids "
                              "instead, or draw the new one smaller")
        if not after.equals_exact(before, 0.0):
            changed[other] = after
    return changed


def split(polygon: shapely.Geometry, line: shapely.Geometry) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Cut a grid in two along a line drawn across it: the larger part first. An end drawn short
    of the grid's edge is carried on straight to the edge: lanes often stop inside a grid, and
    a planner splitting along one draws where the lane is."""
    if line.geom_type != "LineString":
        raise RedrawError("the split line must be a LineString")
    line = to_the_edges(polygon, line)
    pieces = [p for p in split_by_line(polygon, line).geoms if p.area > 0]
    if len(pieces) != 2:
        raise RedrawError(f"the line cuts the grid into {len(pieces)} pieces; draw it across the "
                          "grid from one edge to another, crossing it once")
    pieces.sort(key=lambda p: p.area, reverse=True)
    return pieces[0], pieces[1]


# How far past the edge a carried-on end goes: about a centimetre, so the line surely crosses it.
PAST_THE_EDGE_DEG = 1e-7


def to_the_edges(polygon: shapely.Geometry, line: shapely.Geometry) -> shapely.LineString:
    """The line with each end that lies on or inside ``polygon`` carried on, in the direction of
    the line's last (first) segment, to just past the nearest edge it meets."""
    coords = [tuple(c) for c in shapely.get_coordinates(line)]
    if len(coords) < 2:
        return line
    x0, y0, x1, y1 = polygon.bounds
    reach = 2 * ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 + 1e-6
    edges = polygon.boundary

    def carried(end: tuple[float, float], before: tuple[float, float]) -> tuple[float, float]:
        dx, dy = end[0] - before[0], end[1] - before[1]
        length = (dx * dx + dy * dy) ** 0.5
        if length == 0 or not polygon.covers(shapely.Point(end)):
            return end
        ux, uy = dx / length, dy / length
        ray = shapely.LineString([end, (end[0] + ux * reach, end[1] + uy * reach)])
        hits = shapely.get_coordinates(ray.intersection(edges))
        if not len(hits):
            return end
        d = min(ray.project(shapely.Point(p)) for p in hits) + PAST_THE_EDGE_DEG
        return end[0] + ux * d, end[1] + uy * d

    coords[0] = carried(coords[0], coords[1])
    coords[-1] = carried(coords[-1], coords[-2])
    return shapely.LineString(coords)


def merge(geoms: list[shapely.Geometry]) -> shapely.Geometry:
    """The union of adjacent grids, drawn as a grid of units is (seams closed: two grids whose
    common edge is two nearly collinear edges are adjacent, not "apart"); RedrawError if they do
    not form one piece."""
    merged = union_of_units(geoms)
    if merged.geom_type != "Polygon":
        raise RedrawError("the grids do not touch one another; merge only adjacent grids")
    return merged


def next_grid_code(community_code: str, existing: list[str]) -> str:
    """The next free grid code under a community: 12 digits + a 2-digit sequence (3 digits once
    99 are used), as the national scheme writes them."""
    used = [int(c[len(community_code):]) for c in existing
            if c.startswith(community_code) and re.fullmatch(r"\d{2,3}", c[len(community_code):])]
    following = max(used, default=0) + 1
    if following > 999:
        raise RedrawError(f"community {community_code} has no free grid code left")
    return f"{community_code}{following:02d}" if following < 100 else f"{community_code}{following:03d}"
