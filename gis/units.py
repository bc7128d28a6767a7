"""Planning units, as Districtr paints them: the small pieces grids are made of.

A grid is cut into blocks by the roads and back alleys crossing it, and each block further into
the Voronoi cells of the buildings in it, so a unit holds at most one building (blocks with no
building stay whole). Units of one grid tile it exactly (they come from one overlay), so a grid
rebuilt as the union of its units — after painting units from one grid into another — leaves no
gap and no overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.topology import polygonal

# Pieces smaller than this (degrees², about 0.1 m² at 35°N) are overlay dust, not units.
MIN_UNIT_AREA = 1e-11
# A hole between units thinner than this (degrees, about a centimetre) is a seam that did not
# close, not a gap anyone drew.
DUST_WIDTH = 1e-7


@dataclass(frozen=True)
class Unit:
    grid: str
    geom: shapely.Geometry
    buildings: tuple[int, ...]  # indices into the caller's building arrays


def union_of_units(geoms: list[shapely.Geometry]) -> shapely.Geometry:
    """A grid as the union of its units. Units meet along edges that agree only to
    floating-point noise: the union is taken on a 1e-9° grid (about 0.1 mm) and holes no larger
    than overlay dust are filled — a hairline hole adds its rim to the perimeter, and one of
    0.01 m² took a grid's Polsby–Popper from 0.717 to 0.661."""
    return without_dust(shapely.union_all(geoms, grid_size=1e-9))


def without_dust(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom`` with the holes of overlay dust filled: holes thinner than DUST_WIDTH (they vanish
    when eroded by half of it) or smaller than MIN_UNIT_AREA."""
    parts = shapely.get_parts(polygonal(geom))

    def dust(ring) -> bool:
        hole = shapely.Polygon(ring)
        return hole.area <= MIN_UNIT_AREA or hole.buffer(-DUST_WIDTH / 2).is_empty

    if not any(dust(ring) for p in parts for ring in p.interiors):
        return geom
    kept = [shapely.Polygon(p.exterior, [r for r in p.interiors if not dust(r)]) for p in parts]
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
