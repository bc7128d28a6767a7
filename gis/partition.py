"""Split a polygon into pieces that tessellate it: no gaps, no overlaps, every piece inside.

Used by the demo-city generator (streets → communities → grids) and by planners' tools. Work is
done in a metric CRS (metres) so that seeds and tolerances mean something on the ground.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

from gis.topology import polygonal


def voronoi_partition(region: shapely.Geometry, seeds: NDArray[np.float64]) -> list[shapely.Geometry]:
    """Cells of ``seeds`` clipped to ``region``, in the order of ``seeds``.

    Voronoi cells share their edges exactly, so clipping them to the same region gives pieces that
    tessellate it; a seed whose clipped cell is empty yields an empty polygon.
    """
    if len(seeds) == 1:
        return [region]
    cells = np.asarray(shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=region).geoms)
    seed_idx, cell_idx = shapely.STRtree(cells).query(shapely.points(seeds), predicate="within")
    by_seed: list[shapely.Geometry] = [shapely.Polygon()] * len(seeds)
    for s, c in zip(seed_idx, cell_idx, strict=True):
        by_seed[int(s)] = polygonal(shapely.intersection(cells[c], region))
    return by_seed


def seeds_in(region: shapely.Geometry, n: int, rng: np.random.Generator,
             min_spacing: float = 0.0, max_tries: int = 200) -> NDArray[np.float64]:
    """``n`` random points inside ``region``, at least ``min_spacing`` apart where possible."""
    min_x, min_y, max_x, max_y = region.bounds
    shapely.prepare(region)
    chosen: list[tuple[float, float]] = []
    spacing = min_spacing
    while len(chosen) < n:
        batch = max(64, 4 * (n - len(chosen)))
        xs = rng.uniform(min_x, max_x, batch)
        ys = rng.uniform(min_y, max_y, batch)
        inside = shapely.contains_xy(region, xs, ys)
        for x, y in zip(xs[inside], ys[inside], strict=True):
            if spacing and chosen:
                arr = np.asarray(chosen)
                if np.min(np.hypot(arr[:, 0] - x, arr[:, 1] - y)) < spacing:
                    continue
            chosen.append((float(x), float(y)))
            if len(chosen) == n:
                break
        max_tries -= 1
        if max_tries <= 0:  # region too small for the spacing: relax it rather than fail
            spacing *= 0.7
            max_tries = 200
    return np.asarray(chosen)


def lloyd_relax(region: shapely.Geometry, seeds: NDArray[np.float64], rounds: int = 2) -> NDArray[np.float64]:
    """Move seeds to their cells' centroids a few times: rounder, more even cells."""
    for _ in range(rounds):
        cells = voronoi_partition(region, seeds)
        seeds = np.array([
            (c.centroid.x, c.centroid.y) if not c.is_empty else tuple(s)
            for c, s in zip(cells, seeds, strict=True)
        ])
    return seeds
