"""The exact in-memory point → grid index.

Answers equal PostGIS ``ST_Covers(grid.geom, point)`` — boundaries included — because the exact
test *is* PostGIS's: the same winding-number algorithm (liblwgeom ``point_in_ring``) with the same
floating-point expression for the side of a segment, evaluated in the same order. Speed comes
from a raster laid over the grids:

* a cell that no grid edge touches (with a safety margin far above rounding error) is *pure*: every
  point in it has the cell's answer, found by two multiplications and a table look-up;
* a cell some edge touches keeps a short list of candidate grids (those whose bounding box meets
  it, in tie-break order) and its points get the exact test.

**Tie-break rule.** A point that several grids cover (it lies on a shared boundary) belongs to the
grid with the smallest code; ``on_boundary`` says it lies on that grid's boundary. This equals
``SELECT code FROM grids WHERE ST_Covers(geom, pt) ORDER BY code LIMIT 1``.

Coordinates are WGS84 longitude/latitude, as stored. The kernels are compiled with numba (no
fastmath, so no fused multiply-add: IEEE results identical to PostGIS's C code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import shapely
from numba import prange

OUTSIDE = -1
_MARGIN_DEG = 1e-9  # cells within ~0.1 mm of an edge are treated as boundary cells
_ZERO_SEGMENT = 1e-12 * 1e-12


# -- the exact test: liblwgeom's point_in_ring / point_in_multipolygon -------------------------------
@numba.njit(cache=True, inline="always")
def _point_in_ring(px, py, vx, vy, start, end):
    """-1 outside, 0 on the ring, 1 inside; ``vx[start:end]`` is a closed ring."""
    wn = 0
    for i in range(start, end - 1):
        x1, y1, x2, y2 = vx[i], vy[i], vx[i + 1], vy[i + 1]
        if ((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1)) < _ZERO_SEGMENT:
            continue
        side = (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1)
        if side == 0.0 and not (max(x1, x2) < px or min(x1, x2) > px
                                or max(y1, y2) < py or min(y1, y2) > py):
            return 0  # on the segment: PostGIS's isOnSegment
        if y1 <= py and py < y2 and side > 0:
            wn += 1
        elif y2 <= py and py < y1 and side < 0:
            wn -= 1
    return -1 if wn == 0 else 1


@numba.njit(cache=True)
def _classify(px, py, g, grid_parts, part_rings, ring_verts, vx, vy):
    """liblwgeom point_in_multipolygon for grid ``g``: -1 outside, 0 on the boundary, 1 inside.
    A grid has parts; a part has rings (exterior first); a ring has vertices."""
    result = -1
    for p in range(grid_parts[g], grid_parts[g + 1]):
        r0, r1 = part_rings[p], part_rings[p + 1]
        in_ring = _point_in_ring(px, py, vx, vy, ring_verts[r0], ring_verts[r0 + 1])
        if in_ring == -1:
            continue
        if in_ring == 0:
            return 0
        result = 1
        for r in range(r0 + 1, r1):
            in_hole = _point_in_ring(px, py, vx, vy, ring_verts[r], ring_verts[r + 1])
            if in_hole == 1:
                result = -1
                break
            if in_hole == 0:
                return 0
        if result != -1:
            return result
    return result


@numba.njit(cache=True, inline="always")
def _locate_point(i, xs, ys, x0, y0, inv_cell, nx, ny, cell_label, cand_off, cands, bbox,
                  grid_parts, part_rings, ring_verts, vx, vy, out_grid, out_boundary):
    px, py = xs[i], ys[i]
    out_grid[i] = -1
    out_boundary[i] = False
    fx = (px - x0) * inv_cell
    fy = (py - y0) * inv_cell
    if not (fx >= 0.0 and fy >= 0.0 and fx < nx and fy < ny):  # also rejects NaN
        return
    label = cell_label[int(fy) * nx + int(fx)]
    if label >= -1:
        out_grid[i] = label
        return
    k = -label - 2
    for j in range(cand_off[k], cand_off[k + 1]):
        g = cands[j]
        if px < bbox[g, 0] or px > bbox[g, 2] or py < bbox[g, 1] or py > bbox[g, 3]:
            continue
        r = _classify(px, py, g, grid_parts, part_rings, ring_verts, vx, vy)
        if r >= 0:
            out_grid[i] = g
            out_boundary[i] = r == 0
            return


@numba.njit(cache=True, parallel=True)
def _locate_parallel(xs, ys, x0, y0, inv_cell, nx, ny, cell_label, cand_off, cands, bbox,
                     grid_parts, part_rings, ring_verts, vx, vy, out_grid, out_boundary):
    for i in prange(xs.shape[0]):
        _locate_point(i, xs, ys, x0, y0, inv_cell, nx, ny, cell_label, cand_off, cands, bbox,
                      grid_parts, part_rings, ring_verts, vx, vy, out_grid, out_boundary)


@numba.njit(cache=True)
def _locate_serial(xs, ys, x0, y0, inv_cell, nx, ny, cell_label, cand_off, cands, bbox,
                   grid_parts, part_rings, ring_verts, vx, vy, out_grid, out_boundary):
    for i in range(xs.shape[0]):
        _locate_point(i, xs, ys, x0, y0, inv_cell, nx, ny, cell_label, cand_off, cands, bbox,
                      grid_parts, part_rings, ring_verts, vx, vy, out_grid, out_boundary)


_PARALLEL_FROM = 20_000  # below this, starting threads costs more than it saves


# -- building the raster ---------------------------------------------------------------------------
@numba.njit(cache=True)
def _mark_boundary_cells(vx, vy, ring_verts, x0, y0, cell, nx, ny, margin, is_boundary):
    reach = cell * 0.7072 + margin  # half the cell diagonal, plus the margin
    for r in range(ring_verts.shape[0] - 1):
        for i in range(ring_verts[r], ring_verts[r + 1] - 1):
            ax, ay, bx, by = vx[i], vy[i], vx[i + 1], vy[i + 1]
            cx0 = max(0, int((min(ax, bx) - margin - x0) / cell) - 1)
            cx1 = min(nx - 1, int((max(ax, bx) + margin - x0) / cell) + 1)
            cy0 = max(0, int((min(ay, by) - margin - y0) / cell) - 1)
            cy1 = min(ny - 1, int((max(ay, by) + margin - y0) / cell) + 1)
            dx, dy = bx - ax, by - ay
            seg2 = dx * dx + dy * dy
            for cy in range(cy0, cy1 + 1):
                for cx in range(cx0, cx1 + 1):
                    mx = x0 + (cx + 0.5) * cell
                    my = y0 + (cy + 0.5) * cell
                    t = 0.0 if seg2 == 0.0 else ((mx - ax) * dx + (my - ay) * dy) / seg2
                    t = min(1.0, max(0.0, t))
                    ex, ey = ax + t * dx - mx, ay + t * dy - my
                    if ex * ex + ey * ey <= reach * reach:
                        is_boundary[cy * nx + cx] = True


@numba.njit(cache=True, inline="always")
def _cells_of_bbox(bbox, g, x0, y0, cell, nx, ny):
    """The raster cells (with a one-cell margin) under grid ``g``'s bounding box."""
    return (max(0, int((bbox[g, 0] - x0) / cell) - 1), min(nx - 1, int((bbox[g, 2] - x0) / cell) + 1),
            max(0, int((bbox[g, 1] - y0) / cell) - 1), min(ny - 1, int((bbox[g, 3] - y0) / cell) + 1))


@numba.njit(cache=True)
def _label_cells(order, bbox, x0, y0, cell, nx, ny, is_boundary, grid_parts, part_rings,
                 ring_verts, vx, vy, label, cand_count):
    """Pure cells get the first grid (in tie-break order) containing their centre; boundary
    cells count the grids whose bounding box meets them."""
    for g in order:
        cx0, cx1, cy0, cy1 = _cells_of_bbox(bbox, g, x0, y0, cell, nx, ny)
        for cy in range(cy0, cy1 + 1):
            for cx in range(cx0, cx1 + 1):
                c = cy * nx + cx
                if is_boundary[c]:
                    cand_count[c] += 1
                elif label[c] == -1:
                    mx = x0 + (cx + 0.5) * cell
                    my = y0 + (cy + 0.5) * cell
                    if _classify(mx, my, g, grid_parts, part_rings, ring_verts, vx, vy) == 1:
                        label[c] = g


@numba.njit(cache=True)
def _fill_candidates(order, bbox, x0, y0, cell, nx, ny, is_boundary, slot, cands, fill):
    for g in order:
        cx0, cx1, cy0, cy1 = _cells_of_bbox(bbox, g, x0, y0, cell, nx, ny)
        for cy in range(cy0, cy1 + 1):
            for cx in range(cx0, cx1 + 1):
                c = cy * nx + cx
                if is_boundary[c]:
                    k = slot[c]
                    cands[fill[k]] = g
                    fill[k] += 1


# -- the index -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocateResult:
    grid: np.ndarray  # int32 index into ``codes``; -1 where no grid covers the point
    on_boundary: np.ndarray  # bool


class GridIndex:
    """Point → grid for one set of grid polygons (one generation)."""

    def __init__(self, codes: list[str], geoms: list[shapely.Geometry], cell_deg: float = 0.0003):
        if len(codes) != len(geoms):
            raise ValueError("codes and geometries differ in length")
        # Tie-break order: smallest code first. Index positions follow the sorted codes.
        order = np.argsort(np.asarray(codes, dtype=object).astype(str), kind="stable")
        self.codes = np.asarray([codes[i] for i in order], dtype=object)
        self.geoms = [geoms[i] for i in order]
        n = len(self.codes)
        grid_parts, part_rings, ring_verts = [0], [0], [0]
        xs_all, ys_all = [], []
        bbox = np.zeros((max(n, 1), 4))
        for g, geom in enumerate(self.geoms):
            polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
            for poly in polys:
                if poly.is_empty:
                    continue
                for ring in (poly.exterior, *poly.interiors):
                    coords = np.asarray(ring.coords)
                    xs_all.append(coords[:, 0])
                    ys_all.append(coords[:, 1])
                    ring_verts.append(ring_verts[-1] + len(coords))
                part_rings.append(len(ring_verts) - 1)
            grid_parts.append(len(part_rings) - 1)
            bbox[g] = geom.bounds if not geom.is_empty else (np.inf, np.inf, -np.inf, -np.inf)
        self._grid_parts = np.asarray(grid_parts, dtype=np.int64)
        self._part_rings = np.asarray(part_rings, dtype=np.int64)
        self._ring_verts = np.asarray(ring_verts, dtype=np.int64)
        self._vx = np.concatenate(xs_all) if xs_all else np.zeros(0)
        self._vy = np.concatenate(ys_all) if ys_all else np.zeros(0)
        self._bbox = bbox
        self._build_raster(n, cell_deg)

    def _build_raster(self, n: int, cell: float) -> None:
        if n == 0:
            self._x0 = self._y0 = 0.0
            self._nx = self._ny = 1
            self._inv = 1.0
            self._label = np.full(1, OUTSIDE, dtype=np.int32)
            self._cand_off = np.zeros(1, dtype=np.int64)
            self._cands = np.zeros(0, dtype=np.int32)
            return
        min_x, min_y = self._bbox[:, 0].min() - cell, self._bbox[:, 1].min() - cell
        max_x, max_y = self._bbox[:, 2].max() + cell, self._bbox[:, 3].max() + cell
        nx = int(np.ceil((max_x - min_x) / cell)) + 1
        ny = int(np.ceil((max_y - min_y) / cell)) + 1
        is_boundary = np.zeros(nx * ny, dtype=np.bool_)
        _mark_boundary_cells(self._vx, self._vy, self._ring_verts, min_x, min_y, cell, nx, ny,
                             _MARGIN_DEG, is_boundary)
        label = np.full(nx * ny, OUTSIDE, dtype=np.int32)
        cand_count = np.zeros(nx * ny, dtype=np.int64)
        order = np.arange(n, dtype=np.int64)
        _label_cells(order, self._bbox, min_x, min_y, cell, nx, ny, is_boundary,
                     self._grid_parts, self._part_rings, self._ring_verts, self._vx, self._vy,
                     label, cand_count)
        boundary_cells = np.flatnonzero(is_boundary)
        slot = np.full(nx * ny, -1, dtype=np.int64)
        slot[boundary_cells] = np.arange(len(boundary_cells))
        counts = cand_count[boundary_cells]
        cand_off = np.zeros(len(boundary_cells) + 1, dtype=np.int64)
        np.cumsum(counts, out=cand_off[1:])
        cands = np.zeros(cand_off[-1], dtype=np.int32)
        fill = cand_off[:-1].copy()
        _fill_candidates(order, self._bbox, min_x, min_y, cell, nx, ny, is_boundary, slot,
                         cands, fill)
        label[boundary_cells] = -2 - np.arange(len(boundary_cells), dtype=np.int32)
        self._x0, self._y0, self._nx, self._ny = min_x, min_y, nx, ny
        self._inv = 1.0 / cell
        self._label, self._cand_off, self._cands = label, cand_off, cands
        self.boundary_cell_share = len(boundary_cells) / (nx * ny)

    _ARRAYS = ("_grid_parts", "_part_rings", "_ring_verts", "_vx", "_vy", "_bbox", "_label",
               "_cand_off", "_cands")

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as plain arrays (``np.savez``-able): everything ``locate`` reads."""
        state = {name.lstrip("_"): getattr(self, name) for name in self._ARRAYS}
        state["codes"] = self.codes.astype(str)
        state["frame"] = np.array([self._x0, self._y0, self._inv, self._nx, self._ny])
        return state

    @classmethod
    def from_arrays(cls, state) -> GridIndex:
        """An index from ``arrays()``: it locates exactly as the original; it has no polygons
        (``geoms`` is empty), so nothing that measures or draws grids can use it."""
        index = cls.__new__(cls)
        for name in cls._ARRAYS:
            setattr(index, name, np.ascontiguousarray(state[name.lstrip("_")]))
        index.codes = np.asarray(state["codes"]).astype(object)
        index.geoms = []
        x0, y0, inv, nx, ny = (float(v) for v in state["frame"])
        index._x0, index._y0, index._inv, index._nx, index._ny = x0, y0, inv, int(nx), int(ny)
        return index

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon, lat) -> LocateResult:
        """Vectorised: grid index (or -1) and on-boundary flag for each point."""
        xs = np.ascontiguousarray(lon, dtype=np.float64).ravel()
        ys = np.ascontiguousarray(lat, dtype=np.float64).ravel()
        out = np.empty(xs.shape[0], dtype=np.int32)
        on_boundary = np.empty(xs.shape[0], dtype=np.bool_)
        kernel = _locate_parallel if xs.shape[0] >= _PARALLEL_FROM else _locate_serial
        kernel(xs, ys, self._x0, self._y0, self._inv, self._nx, self._ny, self._label,
                self._cand_off, self._cands, self._bbox, self._grid_parts, self._part_rings,
                self._ring_verts, self._vx, self._vy, out, on_boundary)
        return LocateResult(out, on_boundary)

    def locate_one(self, lon: float, lat: float) -> tuple[int, bool]:
        result = self.locate(np.array([lon]), np.array([lat]))
        return int(result.grid[0]), bool(result.on_boundary[0])
