"""The unit graph a community is rebalanced on: planning units as nodes (households, area,
perimeter, centre in metres), shared boundaries as edges (their length in metres, and whether
they run along a road or alley). Measured in a local metric frame, which is all comparing shapes
within one community needs.

Two units are neighbours when their boundaries run together (within SHARED_DEG) for more than a
centimetre *and* their union, as the plan draws it (gis.units.union_of_units), is one piece: a
grid connected in this graph is then drawn in one piece. Without the second test, units that
only meet at a corner between two edges a few degrees apart counted as neighbours (their
boundaries stay within a millimetre of each other for a centimetre or two on either side of the
corner), and a search on the graph could make a grid of two pieces touching at a point."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import shapely

from gis.units import SEAM_DEG, union_of_units

ROAD_COST = 0.3  # a metre of boundary along a road or alley costs this much of an open one
SHARED_DEG = SEAM_DEG  # about a millimetre: units of one overlay share edges to within noise
ROAD_NEAR_M = 3.0  # a shared boundary within this of a road or alley runs along it


@dataclass
class Network:
    """Units of one community as a graph, measured in metres."""

    ids: list[int]
    households: np.ndarray
    area: np.ndarray  # m²
    perimeter: np.ndarray  # m
    centre: np.ndarray  # (n, 2) metres, local frame
    edges: list[dict[int, tuple[float, bool]]]  # i → {j: (shared metres, along a road)}

    def cost(self, i: int, j: int) -> float:
        shared, road = self.edges[i][j]
        return shared * (ROAD_COST if road else 1.0)


def _local(geom: shapely.Geometry, lat0: float) -> shapely.Geometry:
    """``geom`` in metres east and north, scaled by the WGS84 ellipsoid's lengths of a degree at
    ``lat0``: over a community this agrees with the geodesic figures reported to about 1e-4 (the
    sphere's 110,574 m per degree of latitude, the equator's, stretched shapes by 0.3 % at
    Jining's 35°N)."""
    phi = math.radians(lat0)
    kx = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    ky = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    return shapely.transform(geom, lambda c: c * np.array([kx, ky]))


def network(ids: list[int], geoms: list[shapely.Geometry], households: list[int],
            lines: list[shapely.Geometry]) -> Network:
    """The unit graph of a community: units sharing a boundary are neighbours; each edge knows
    its length and whether it runs along one of ``lines`` (roads and alleys)."""
    arr = np.asarray(geoms, dtype=object)
    lat0 = float(np.mean([g.centroid.y for g in geoms])) if geoms else 0.0
    local = np.asarray([_local(g, lat0) for g in geoms], dtype=object)
    near = np.asarray([g.buffer(SHARED_DEG) for g in geoms], dtype=object)
    road_tree = shapely.STRtree([_local(line, lat0) for line in lines]) if lines else None
    edges: list[dict[int, tuple[float, bool]]] = [{} for _ in ids]
    left, right = shapely.STRtree(near).query(arr, predicate="intersects")
    # boundaries with a common segment and a seam of 10 cm or more: their union is one piece
    # without drawing it (drawing every pair took five times what the rest of the graph does);
    # a common segment alone is not enough: one of 1e-10° vanishes on the union's 1e-9° grid
    along = shapely.relate_pattern(arr[left], arr[right], "****1****")
    for i, j, common in zip(left, right, along, strict=True):
        if i >= j:
            continue
        # measured from both sides, the shorter: a ring that runs along itself (a unit whose
        # parts touch) would count its seam twice from its own side
        seam = min(arr[j].boundary.intersection(near[i]), arr[i].boundary.intersection(near[j]),
                   key=lambda g: g.length)
        if seam.length <= 10 * SHARED_DEG:
            continue
        if ((not common or seam.length <= 100 * SHARED_DEG)
                and shapely.get_num_geometries(union_of_units([arr[i], arr[j]])) > 1):
            continue  # they meet at a corner (or points), not along an edge
        seam_m = _local(seam, lat0)
        road = bool(road_tree is not None and len(road_tree.query(
            seam_m.interpolate(0.5, normalized=True), predicate="dwithin", distance=ROAD_NEAR_M)))
        edges[i][j] = edges[j][i] = (seam_m.length, road)
    return Network(list(ids), np.asarray(households, dtype=np.int64),
                   np.asarray([g.area for g in local]), np.asarray([g.length for g in local]),
                   np.asarray([[g.centroid.x, g.centroid.y] for g in local]).reshape(-1, 2), edges)


def connected(net: Network, members: set[int]) -> bool:
    if not members:
        return True
    start = next(iter(members))
    seen, queue = {start}, deque([start])
    while queue:
        for j in net.edges[queue.popleft()]:
            if j in members and j not in seen:
                seen.add(j)
                queue.append(j)
    return len(seen) == len(members)


def without_edges(net: Network, pairs: set[tuple[int, int]]) -> Network:
    """``net`` without the edges between the units of ``pairs`` (as a new network): units whose
    shapes the graph has as neighbours but whose union comes out in two parts."""
    edges = [{j: e for j, e in row.items() if (i, j) not in pairs and (j, i) not in pairs}
             for i, row in enumerate(net.edges)]
    return Network(net.ids, net.households, net.area, net.perimeter, net.centre, edges)
