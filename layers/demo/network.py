"""The demo's street network, dense as a real town's: roads along the edges of urban grids (grid
boundaries follow streets), lanes between the rows of a compound's buildings, and roads joining
neighbouring villages. Everything here is plane geometry in metres; the generator (city.py)
decides where it goes and keeps the buildings clear of it.
"""

from __future__ import annotations

import math

import numpy as np
import shapely


class Lattice:
    """A rotated lattice over a region: building spots on its nodes and lanes between its rows
    and columns, so a lane never crosses a building placed on the lattice."""

    def __init__(self, extent: shapely.Geometry, dx: float, dy: float, theta: float):
        min_x, min_y, max_x, max_y = extent.bounds
        self.cx, self.cy = (min_x + max_x) / 2, (min_y + max_y) / 2
        self.r = math.hypot(max_x - min_x, max_y - min_y) / 2 + max(dx, dy)
        self.dx, self.dy, self.theta = dx, dy, theta
        self.u = np.arange(-self.r, self.r, dx)
        self.v = np.arange(-self.r, self.r, dy)

    def _world(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.theta), math.sin(self.theta)
        return np.column_stack([self.cx + u * c - v * s, self.cy + u * s + v * c])

    def _local(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c, s = math.cos(self.theta), math.sin(self.theta)
        x, y = xy[:, 0] - self.cx, xy[:, 1] - self.cy
        return x * c + y * s, -x * s + y * c

    def points(self, region: shapely.Geometry) -> np.ndarray:
        """The lattice nodes inside ``region``."""
        uu, vv = np.meshgrid(self.u, self.v)
        xy = self._world(uu.ravel(), vv.ravel())
        if region.is_empty:
            return xy[:0]
        # only nodes inside the region's bounds are tested (the lattice spans a circle around
        # the region: most nodes fall outside its bounding box, and the test is the cost here)
        min_x, min_y, max_x, max_y = region.bounds
        inside = (xy[:, 0] >= min_x) & (xy[:, 0] <= max_x) & (xy[:, 1] >= min_y) & (xy[:, 1] <= max_y)
        inside[inside] = shapely.contains_xy(region, xy[inside, 0], xy[inside, 1])
        return xy[inside]

    def lanes(self, area: shapely.Geometry, every_u: int = 3, every_v: int = 5,
              margin: float = 90.0, min_length: float = 60.0) -> list[shapely.Geometry]:
        """Lanes through ``area`` halfway between lattice columns (every ``every_u``-th gap) and
        rows (every ``every_v``-th), at least ``margin`` from the area's ends, clipped to it."""
        u_of, v_of = self._local(shapely.get_coordinates(area))
        out: list[shapely.Geometry] = []
        for gaps, lo, hi, along_u in (
                (self.u + self.dx / 2, u_of.min() + margin, u_of.max() - margin, True),
                (self.v + self.dy / 2, v_of.min() + margin, v_of.max() - margin, False)):
            inside = gaps[(gaps > lo) & (gaps < hi)]
            every = every_u if along_u else every_v
            middle = len(inside) // 2
            for g in inside[(np.arange(len(inside)) - middle) % every == 0]:
                ends = np.array([-self.r, self.r])
                uv = (np.full(2, g), ends) if along_u else (ends, np.full(2, g))
                line = shapely.LineString(self._world(*uv)).intersection(area)
                out += [p for p in shapely.get_parts(line)
                        if p.geom_type == "LineString" and p.length >= min_length]
        return out


def edge_roads(cells: list[shapely.Geometry], outline: shapely.Geometry,
               min_length: float = 40.0) -> list[shapely.Geometry]:
    """The edges between adjacent ``cells`` as roads broken at their junctions; edges on the
    ``outline`` (the district's border) are not roads."""
    if not cells:
        return []
    edges = shapely.union_all([c.boundary for c in cells])  # noded: a shared edge once
    inner = edges.difference(outline.boundary.buffer(0.5))
    merged = shapely.line_merge(inner) if not inner.is_empty else inner
    return [p for p in shapely.get_parts(merged)
            if p.geom_type == "LineString" and p.length >= min_length]


def village_links(cores: np.ndarray, areas: list[shapely.Geometry]) -> list[tuple[int, int]]:
    """Pairs of villages whose areas touch, each once: a road joins their cores."""
    tree = shapely.STRtree(areas)
    left, right = tree.query(areas, predicate="touches")
    pairs = sorted({(int(a), int(b)) for a, b in zip(left, right, strict=True) if a < b})
    return [(a, b) for a, b in pairs if not np.allclose(cores[a], cores[b])]
