"""Topology checks for area hierarchies: gaps and overlaps between siblings, children that stick
out of their parent.

Checks run in the CRS the geometries are stored in (WGS84), because that is where their edges are
straight: re-projecting to a plane bends long edges by up to a metre and would invent slivers. The
tolerance is a width in the same units, applied by eroding each offending piece by half of it (a
sliver thinner than the tolerance vanishes); :func:`metres_to_degrees` converts one in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True)
class Defect:
    kind: str  # "gap" | "overlap" | "outside_parent"
    codes: tuple[str, ...]
    piece: shapely.Geometry  # the offending area itself

    @property
    def where(self) -> shapely.Point:
        return self.piece.representative_point()


def metres_to_degrees(metres: float, lat: float) -> float:
    """A width in metres as degrees, conservatively (a degree of longitude is the shorter one)."""
    return metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))


def _significant(piece: shapely.Geometry, tolerance: float) -> bool:
    if piece.is_empty or piece.area == 0:
        return False
    if tolerance <= 0:
        return True
    return not piece.buffer(-tolerance / 2).is_empty


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygonal part of an overlay result (drop stray lines and points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon") or geom.is_empty:
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def sibling_defects(parent_code: str, parent: shapely.Geometry | None, codes: list[str],
                    geoms: list[shapely.Geometry], tolerance: float) -> list[Defect]:
    """Overlaps between siblings, and (when the parent is known) gaps they leave in it and parts
    of them outside it."""
    defects: list[Defect] = []
    arr = np.asarray(geoms, dtype=object)
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        piece = polygonal(shapely.intersection(arr[i], arr[j]))
        if _significant(piece, tolerance):
            defects.append(Defect("overlap", (codes[i], codes[j]), piece))
    if parent is None:
        return defects
    for code, geom in zip(codes, geoms, strict=True):
        outside = polygonal(geom.difference(parent))
        if _significant(outside, tolerance):
            defects.append(Defect("outside_parent", (code, parent_code), outside))
    gap = polygonal(parent.difference(shapely.union_all(arr)))
    for piece in getattr(gap, "geoms", [gap]):
        if _significant(piece, tolerance):
            defects.append(Defect("gap", (parent_code,), piece))
    return defects
