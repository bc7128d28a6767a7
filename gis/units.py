"""Planning units, as Districtr paints them: the small pieces grids are made of.

A grid is cut into blocks by the roads and back alleys crossing it, and each block further into
the Voronoi cells of the buildings in it, so a unit holds at most one building (blocks with no
building stay whole). Units of one grid tile it exactly (they come from one overlay), so a grid
rebuilt as the union of its units — after painting units from one grid into another — leaves no
gap and no overlap.

Units meet along edges that agree only to floating-point noise, and a grid is drawn as the union
of its units on a 1e-9° grid (about 0.1 mm, the store's "same geometry"). That union alone can
draw two units the unit graph has as neighbours in two pieces: where one unit's side of a common
edge is two nearly collinear edges and the other's one straight edge (or the two run 5e-9° apart),
the sliver between them is wider than the union's grid, and where it runs from the outline to
the outline the union comes apart at its two ends (applying a rebalance made 370811018002's grid
09 two pieces so). Seams are therefore closed where the union splits: the units are *noded* —
each snapped to its neighbours within SEAM_DEG (vertex to vertex, and their vertices inserted
into its edges), so both sides of a seam run through the same vertices — and the union is taken
again. Why this and not the alternatives:

- noding the units when they are made would also need the units already stored beside them
  rewritten (a new unit's vertices belong in its old neighbours' edges too), and the units of
  plans made before would stay as they are; at the union it applies to every plan as it is;
- a closing buffer (±1e-8°) rounds or bevels every sharp corner of the outline by more than the
  store's tolerance, where snapping moves nothing farther than SEAM_DEG from another unit;
- only where the union splits: an outline that came out whole is the plain union, unchanged
  (the common case costs nothing more).

SEAM_DEG is the unit graph's SHARED_DEG: what the graph calls a common edge (boundaries within
it), the union closes. The graph in turn counts two units as neighbours only when their union is
one piece (gis.unit_graph), so units that merely meet at a corner are not neighbours either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.topology import polygonal

# Pieces smaller than this (degrees², about 0.1 m² at 35°N) are overlay dust, not units.
MIN_UNIT_AREA = 1e-11
# The grid unions are drawn on (degrees, about 0.1 mm): the store's "same geometry".
GRID_DEG = 1e-9
# Seams narrower than this (degrees, about a millimetre) are closed when a union splits along
# them; the unit graph's neighbours share edges to within it (gis.unit_graph.SHARED_DEG).
SEAM_DEG = 1e-8
# A hole between units thinner than this (degrees, about a centimetre) is a seam that did not
# close, not a gap anyone drew.
DUST_WIDTH = 1e-7


@dataclass(frozen=True)
class Unit:
    grid: str
    geom: shapely.Geometry
    buildings: tuple[int, ...]  # indices into the caller's building arrays


def union_of_units(geoms: list[shapely.Geometry]) -> shapely.Geometry:
    """A grid as the union of its units, on a 1e-9° grid (about 0.1 mm), its seams closed where
    the union came apart along them (see the module's docstring), and holes no larger than
    overlay dust filled — a hairline hole adds its rim to the perimeter, and one of 0.01 m² took
    a grid's Polsby–Popper from 0.717 to 0.661. The plan draws every grid with this function."""
    union = without_dust(shapely.union_all(geoms, grid_size=GRID_DEG))
    if shapely.get_num_geometries(union) > 1 and len(geoms) > 1:
        union = without_dust(shapely.union_all(noded(geoms), grid_size=GRID_DEG))
    # one piece is a Polygon (the overlay may answer a MultiPolygon of one part)
    return union.geoms[0] if union.geom_type == "MultiPolygon" and len(union.geoms) == 1 else union


def noded(geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """The units snapped together along their seams: first each to the units before it (its
    vertices within SEAM_DEG of theirs move onto them, their vertices within SEAM_DEG of its
    edges are inserted there), then each to all its neighbours as they now are (which inserts
    the vertices of later units into the edges of earlier ones). After both passes the two sides
    of a seam run through the same vertices, so the union has nothing left between them. Nothing
    moves by more than SEAM_DEG, and only where another unit is that close."""
    out = list(geoms)
    tree = shapely.STRtree(out)
    left, right = tree.query(out, predicate="dwithin", distance=SEAM_DEG)
    near: list[list[int]] = [[] for _ in out]
    for i, j in zip(left, right, strict=True):
        if i != j:
            near[i].append(int(j))

    def snapped(i: int, others: list[int]) -> shapely.Geometry:
        if not others:
            return out[i]
        moved = shapely.snap(out[i], shapely.GeometryCollection([out[j] for j in others]), SEAM_DEG)
        return moved if moved.is_valid else polygonal(shapely.make_valid(moved))

    for i in range(len(out)):
        out[i] = snapped(i, [j for j in near[i] if j < i])
    for i in range(len(out)):
        out[i] = snapped(i, near[i])
    return out


def without_dust(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom`` without overlay dust: parts no larger than MIN_UNIT_AREA beside larger ones
    dropped (a union on the 1e-9° grid can leave a sliver of no area beside two units that share
    a long edge: not a second piece of the grid), and holes thinner than DUST_WIDTH (they vanish
    when eroded by half of it) or smaller than MIN_UNIT_AREA filled."""
    parts = list(shapely.get_parts(polygonal(geom)))
    solid = [p for p in parts if p.area > MIN_UNIT_AREA] or parts

    def dust(ring) -> bool:
        hole = shapely.Polygon(ring)
        return hole.area <= MIN_UNIT_AREA or hole.buffer(-DUST_WIDTH / 2).is_empty

    if len(solid) == len(parts) and not any(dust(ring) for p in parts for ring in p.interiors):
        return geom
    kept = [shapely.Polygon(p.exterior, [r for r in p.interiors if not dust(r)]) for p in solid]
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)


def blocks(grid: shapely.Geometry, lines: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """The grid cut by the lines that cross it."""
    crossing = [line for line in lines if line.intersects(grid)]
    if not crossing:
        return [grid]
    noded = shapely.union_all([grid.boundary, *[line.intersection(grid) for line in crossing]])
    pieces = [p for p in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
              if p.area > MIN_UNIT_AREA and grid.contains(p.representative_point())]
    return pieces or [grid]


def units_of_grid(code: str, grid: shapely.Geometry, lines: list[shapely.Geometry],
                  points: np.ndarray, point_ids: np.ndarray,
                  shapes: np.ndarray | None = None) -> list[Unit]:
    """The units of one grid; ``points`` are the buildings' points (``point_ids`` their indices)
    and ``shapes`` their footprints: a unit takes its building's whole footprint (inside the
    block) and gives up its neighbours', so painting units never cuts a building in two."""
    out: list[Unit] = []
    shapes = points if shapes is None else shapes
    for block in blocks(grid, lines):
        mask = shapely.covered_by(points, block) if len(points) else np.zeros(0, dtype=bool)
        inside, chosen, footprints = point_ids[mask], points[mask], shapes[mask]
        if len(inside) <= 1:
            out.append(Unit(code, block, tuple(int(i) for i in inside)))
            continue
        cells = shapely.get_parts(shapely.voronoi_polygons(
            shapely.MultiPoint(list(chosen)), extend_to=block))
        footprints = [polygonal(f.intersection(block)) if f.geom_type != "Point" else f
                      for f in footprints]
        for cell in cells:
            home = [k for k, p in enumerate(chosen) if cell.covers(p)]
            piece = cell
            if home and footprints[home[0]].geom_type != "Point":
                piece = piece.union(footprints[home[0]])
            others = [f for k, f in enumerate(footprints) if k not in home and f.geom_type != "Point"
                      and f.intersects(piece)]
            if others:
                piece = piece.difference(shapely.union_all(others))
            piece = polygonal(piece.intersection(block))
            # a cell minus a neighbour's footprint may fall apart: each part is a unit of its own
            for part in shapely.get_parts(piece):
                if part.area <= MIN_UNIT_AREA:
                    continue
                held = tuple(int(inside[k]) for k in home if part.covers(chosen[k]))
                out.append(Unit(code, part, held))
    return out
