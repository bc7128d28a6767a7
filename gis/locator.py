"""The exact in-memory point → grid index.

Answers equal PostGIS ``ST_Covers(grid.geom, point)`` — boundaries included — because the exact
test *is* PostGIS's: the same winding-number algorithm (liblwgeom ``point_in_ring``) with the same
floating-point expression for the side of a segment, evaluated in the same order.

**Tie-break rule.** A point that several grids cover (it lies on a shared boundary) belongs to the
grid with the smallest code; ``on_boundary`` says it lies on that grid's boundary. This equals
``SELECT code FROM grids WHERE ST_Covers(geom, pt) ORDER BY code LIMIT 1``.

Coordinates are WGS84 longitude/latitude, as stored. The kernels are compiled with numba (no
fastmath, so no fused multiply-add: IEEE results identical to PostGIS's C code).

**Cost follows the boundaries, not the area.** The index before this one laid one 0.0003° raster
over the bounding box and labelled every cell by a point-in-polygon test: cost area × ring
length — 45 M cells and 122–367 s for Jining's 11 real county polygons, over 15 minutes and
4.7 GB for Shandong's 136. This one is a cell trie in the spirit of S2's ``RegionCoverer`` and the
Adaptive Cell Trie (Kipf et al.): coarse cells where the answer is pure, cells refined only
along edges, and the exact work done on the few edges near a point:

* a **coarse raster** of about 128 cells per edge (between 1 Ki and 4 Mi cells), so its size
  follows the number of edges; a cell no edge comes within 1e-9° (~0.1 mm) of is pure, and
  its label comes from a sweep line that carries every ring's winding number across the row
  (gis/locator_build.py) — no point-in-polygon test per cell. On the Rencheng demo 90 % of the
  points inside the district end in a pure coarse cell, after one table look-up;
* a cell an edge comes near is **refined** into 4 × 4 children while it holds more than 8
  edges, at most 5 levels (cells down to 1/1024 of the coarse side); a refined child is pure
  or a leaf;
* a **leaf** keeps a reference point q, and for each candidate grid (tie-break order, up to the
  first grid covering the whole leaf: its default answer) the rings near the leaf with their
  winding number at q and their edges near the leaf. A point p is answered from those edges
  only: wn(p) = wn(q) + the signed crossings of the step q → p.

Why that is still PostGIS's answer: liblwgeom's result differs from the exact one only where the
floating-point side of a segment has the wrong sign, i.e. for points within rounding error of an
edge. Every sign the local test uses goes through Shewchuk's error bound (``_side``: the sign of
``(x2-x1)(py-y1) - (px-x1)(y2-y1)`` is certain when its magnitude exceeds 3.33e-16 × the sum of
the two products); the edges the leaf does not keep are farther than the margin, where the sign
is certain anyway. Where all signs are certain, liblwgeom's winding number equals the exact one
and so does ours; where one is not (a point on or a hair off an edge: vertices, midpoints), the
point gets liblwgeom's full replay (``_classify``) for that grid — exactly what the old raster
did for every point in an edge cell. Zero-length segments count for nothing in either; a segment
shorter than 1e-12° (which liblwgeom skips, changing the answer level with it) makes its grid a
full-replay candidate everywhere in its bounding box.

**Bounds.** Build time and memory are O(E + L / s): E edges, L the total length of the rings,
s the finest cell side (the coarse side / 1024); the coarse raster is O(E) up to its cap.
Measured (``python -m bench counties`` and ``locator_ab``, docs/benchmarks.md, a busy machine):
Jining's 11 real counties (8,227 vertices) 0.05–0.26 s and 5 MiB — the fixed raster before took
122–367 s; Shandong's 136 (118,006 vertices) 0.3–0.8 s, 26 MiB; China's 2,875 (4.18 M vertices)
31–38 s, 294 MiB; the Rencheng demo 0.1–0.4 s (the fixed raster 0.75 s in the same run), and it
locates 1.25–1.5× as fast. Zero disagreements with PostGIS on each. The build kernels release the
GIL (``nogil=True``), so a rebuild in a thread runs beside a live index
(layers/locating/locators.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import shapely
from numba import prange

OUTSIDE = -1
_ZERO_SEGMENT = 1e-12 * 1e-12
TINY2 = _ZERO_SEGMENT  # liblwgeom skips segments whose squared length is below this
ERR = 3.3306690738754716e-16  # Shewchuk's ccwerrboundA: (3 + 16ε)ε, ε = 2^-53
_UNDECIDED = -(1 << 30)
_B = 4  # children per side of a refined cell (gis/locator_build.py)
_NODE = 1 << 30


# -- the exact test: liblwgeom's point_in_ring / point_in_multipolygon -------------------------------
@numba.njit(cache=True, nogil=True, inline="always")
def _winding_number(px, py, vx, vy, start, end):
    """liblwgeom's point_in_ring loop over the closed ring ``vx[start:end]``: (its winding
    number, False), or (0, True) at the first segment the point lies on."""
    wn = 0
    for i in range(start, end - 1):
        x1, y1, x2, y2 = vx[i], vy[i], vx[i + 1], vy[i + 1]
        if ((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1)) < _ZERO_SEGMENT:
            continue
        side = (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1)
        if side == 0.0 and not (max(x1, x2) < px or min(x1, x2) > px
                                or max(y1, y2) < py or min(y1, y2) > py):
            return 0, True  # on the segment: PostGIS's isOnSegment
        if y1 <= py and py < y2 and side > 0:
            wn += 1
        elif y2 <= py and py < y1 and side < 0:
            wn -= 1
    return wn, False


@numba.njit(cache=True, inline="always")
def _point_in_ring(px, py, vx, vy, start, end):
    """-1 outside, 0 on the ring, 1 inside; ``vx[start:end]`` is a closed ring."""
    wn, on = _winding_number(px, py, vx, vy, start, end)
    if on:
        return 0
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


@numba.njit(cache=True, nogil=True, inline="always")
def _side(ax, ay, bx, by, px, py):
    """liblwgeom's side of p for segment a → b (> 0: p is on its left) and whether its sign is
    certain (Shewchuk's filter for this very expression)."""
    t1 = (bx - ax) * (py - ay)
    t2 = (px - ax) * (by - ay)
    s = t1 - t2
    return s, abs(s) > ERR * (abs(t1) + abs(t2))


@numba.njit(cache=True, nogil=True, inline="always")
def _ring_wn(px, py, qx, qy, e, ent_wn, ent_edge, edges, vx, vy):
    """The winding number at p of an entry's ring: its number at q plus the crossings of the
    step q → p with its edges near the leaf; _UNDECIDED when a sign is not certain."""
    w = ent_wn[e]
    for k in range(ent_edge[e], ent_edge[e + 1]):
        i = edges[k]
        ax, ay, bx, by = vx[i], vy[i], vx[i + 1], vy[i + 1]
        sp, sure = _side(ax, ay, bx, by, px, py)
        if not sure:
            return _UNDECIDED
        sq = _side(ax, ay, bx, by, qx, qy)[0]
        if (sp > 0.0) == (sq > 0.0):
            continue
        oa, sure_a = _side(qx, qy, px, py, ax, ay)
        ob, sure_b = _side(qx, qy, px, py, bx, by)
        if not (sure_a and sure_b):
            return _UNDECIDED
        if (oa > 0.0) != (ob > 0.0):
            w += 1 if sp > 0.0 else -1
    return w


@numba.njit(cache=True, nogil=True, inline="always")
def _classify_near(px, py, qx, qy, c, cand_kind, cand_ent, ent_ring, ent_wn, ent_edge, edges,
                   ring_part, part_rings, vx, vy):
    """point_in_multipolygon from the leaf's rings: 1 inside, -1 outside, 2 undecided. The parts
    kept are those near the leaf before the first part covering it (``cand_kind`` 1 says one
    does, -1 that none does); the parts left out are certain, so the order of liblwgeom holds."""
    e, end = cand_ent[c], cand_ent[c + 1]
    while e < end:
        part = ring_part[ent_ring[e]]
        rings = part_rings[part + 1] - part_rings[part]
        w = _ring_wn(px, py, qx, qy, e, ent_wn, ent_edge, edges, vx, vy)
        if w == _UNDECIDED:
            return 2
        if w != 0:
            inside = True
            for h in range(e + 1, e + rings):
                wh = _ring_wn(px, py, qx, qy, h, ent_wn, ent_edge, edges, vx, vy)
                if wh == _UNDECIDED:
                    return 2
                if wh != 0:
                    inside = False
                    break
            if inside:
                return 1
        e += rings
    return cand_kind[c]


@numba.njit(cache=True, nogil=True, inline="always")
def _in_leaf(px, py, leaf, leaf_qx, leaf_qy, leaf_default, leaf_cand, cand_grid, cand_kind,
             cand_ent, ent_ring, ent_wn, ent_edge, edges, bbox, grid_parts, part_rings,
             ring_verts, ring_part, vx, vy):
    """(grid, on its boundary) of a point in a leaf: the candidates in tie-break order, then the
    leaf's default. Not inlined: the loop over pure cells stays small."""
    qx, qy = leaf_qx[leaf], leaf_qy[leaf]
    for c in range(leaf_cand[leaf], leaf_cand[leaf + 1]):
        g = cand_grid[c]
        r = 2
        if cand_kind[c] != 0:
            r = _classify_near(px, py, qx, qy, c, cand_kind, cand_ent, ent_ring, ent_wn,
                               ent_edge, edges, ring_part, part_rings, vx, vy)
        if r == 2:  # liblwgeom's own replay, behind PostGIS's bounding-box test
            if px < bbox[g, 0] or px > bbox[g, 2] or py < bbox[g, 1] or py > bbox[g, 3]:
                continue
            r = _classify(px, py, g, grid_parts, part_rings, ring_verts, vx, vy)
        if r >= 0:
            return g, r == 0
    return leaf_default[leaf], False


@numba.njit(cache=True, nogil=True, inline="always")
def _cell_of(px, py, x0, y0, inv, nx, ny, top, nodes):
    """The cell entry of a point: a grid (>= 0), outside (-1) or a leaf (<= -2)."""
    fx = (px - x0) * inv
    fy = (py - y0) * inv
    if not (fx >= 0.0 and fy >= 0.0 and fx < nx and fy < ny):  # also rejects NaN
        return -1
    ix, iy = int(fx), int(fy)
    v = top[iy * nx + ix]
    while v >= _NODE:  # down the refined cells: the fraction times 4 is exact
        fx = (fx - ix) * _B
        fy = (fy - iy) * _B
        ix, iy = min(int(fx), _B - 1), min(int(fy), _B - 1)
        v = nodes[(v - _NODE) * _B * _B + iy * _B + ix]
    return v


@numba.njit(cache=True, nogil=True, parallel=True)
def _cell_pass(xs, ys, x0, y0, inv, nx, ny, top, nodes, out_grid, out_boundary):
    for i in prange(xs.shape[0]):
        out_grid[i] = _cell_of(xs[i], ys[i], x0, y0, inv, nx, ny, top, nodes)
        out_boundary[i] = False


@numba.njit(cache=True, nogil=True, parallel=True)
def _leaf_pass(xs, ys, which, leaf_qx, leaf_qy, leaf_default, leaf_cand, cand_grid,
                     cand_kind, cand_ent, ent_ring, ent_wn, ent_edge, edges, bbox, grid_parts,
                     part_rings, ring_verts, ring_part, vx, vy, out_grid, out_boundary):
    """The points the cells left in a leaf (``which``), answered there."""
    for k in prange(which.shape[0]):
        i = which[k]
        out_grid[i], out_boundary[i] = _in_leaf(
            xs[i], ys[i], -out_grid[i] - 2, leaf_qx, leaf_qy, leaf_default, leaf_cand, cand_grid,
            cand_kind, cand_ent, ent_ring, ent_wn, ent_edge, edges, bbox, grid_parts, part_rings,
            ring_verts, ring_part, vx, vy)


@numba.njit(cache=True, nogil=True)
def _locate_one(px, py, x0, y0, inv, nx, ny, top, nodes, leaf_qx, leaf_qy, leaf_default,
                leaf_cand, cand_grid, cand_kind, cand_ent, ent_ring, ent_wn, ent_edge, edges, bbox,
                grid_parts, part_rings, ring_verts, ring_part, vx, vy):
    """One point (a request's): no threads to start."""
    v = _cell_of(px, py, x0, y0, inv, nx, ny, top, nodes)
    if v >= -1:
        return v, False
    return _in_leaf(px, py, -v - 2, leaf_qx, leaf_qy, leaf_default, leaf_cand, cand_grid,
                    cand_kind, cand_ent, ent_ring, ent_wn, ent_edge, edges, bbox, grid_parts,
                    part_rings, ring_verts, ring_part, vx, vy)


# -- the index -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocateResult:
    grid: np.ndarray  # int32 index into ``codes``; -1 where no grid covers the point
    on_boundary: np.ndarray  # bool


def _flatten(geoms: list[shapely.Geometry]) -> dict[str, np.ndarray]:
    """The polygons as arrays: grid → parts → rings (exterior first) → vertices."""
    n = len(geoms)
    parts, part_grid = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    keep = ~shapely.is_empty(parts)
    parts, part_grid = parts[keep], part_grid[keep]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(vertex_ring, minlength=len(rings))

    def offsets(counts):
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    bbox = np.asarray(shapely.bounds(np.asarray(geoms, dtype=object)), dtype=float).reshape(-1, 4)
    empty = np.isnan(bbox).any(axis=1)
    bbox[empty] = (np.inf, np.inf, -np.inf, -np.inf)
    return {
        "grid_parts": offsets(np.bincount(part_grid, minlength=n)),
        "part_rings": offsets(np.bincount(ring_part, minlength=len(parts))),
        "ring_verts": offsets(counts),
        "ring_part": np.asarray(ring_part, dtype=np.int32),
        "vx": np.ascontiguousarray(coords[:, 0], dtype=np.float64),
        "vy": np.ascontiguousarray(coords[:, 1], dtype=np.float64),
        "bbox": bbox if n else np.zeros((1, 4)),
    }


class GridIndex:
    """Point → grid for one set of grid polygons (one generation)."""

    _GEOMETRY = ("grid_parts", "part_rings", "ring_verts", "ring_part", "vx", "vy", "bbox")
    _CELLS = ("top", "nodes", "leaf_qx", "leaf_qy", "leaf_default", "leaf_cand", "cand_grid",
              "cand_kind", "cand_ent", "ent_ring", "ent_wn", "ent_edge", "edges")

    def __init__(self, codes: list[str], geoms: list[shapely.Geometry]):
        if len(codes) != len(geoms):
            raise ValueError("codes and geometries differ in length")
        # Tie-break order: smallest code first. Index positions follow the sorted codes.
        order = np.argsort(np.asarray(codes, dtype=object).astype(str), kind="stable")
        self.codes = np.asarray([codes[i] for i in order], dtype=object)
        self.geoms = [geoms[i] for i in order]
        self._state = _flatten(self.geoms)
        self._state.update(_cells(self._state, len(self.codes)))

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as plain arrays (``np.savez``-able): everything ``locate`` reads."""
        return {**self._state, "codes": self.codes.astype(str)}

    @classmethod
    def from_arrays(cls, state) -> GridIndex:
        """An index from ``arrays()``: it locates exactly as the original; it has no polygons
        (``geoms`` is empty), so nothing that measures or draws grids can use it."""
        index = cls.__new__(cls)
        index._state = {name: np.ascontiguousarray(state[name])
                        for name in (*cls._GEOMETRY, *cls._CELLS, "frame")}
        index.codes = np.asarray(state["codes"]).astype(object)
        index.geoms = []
        return index

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays (polygons as arrays included)."""
        return sum(a.nbytes for a in self._state.values())

    @property
    def leaves(self) -> int:
        return len(self._state["leaf_qx"])

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon, lat) -> LocateResult:
        """Vectorised: grid index (or -1) and on-boundary flag for each point."""
        xs = np.ascontiguousarray(lon, dtype=np.float64).ravel()
        ys = np.ascontiguousarray(lat, dtype=np.float64).ravel()
        out = np.empty(xs.shape[0], dtype=np.int32)
        on_boundary = np.empty(xs.shape[0], dtype=np.bool_)
        s = self._state
        x0, y0, inv, nx, ny = s["frame"]
        # the cells first (most points end in a pure cell), then the few points left in leaves
        _cell_pass(xs, ys, x0, y0, inv, int(nx), int(ny), s["top"], s["nodes"], out,
                        on_boundary)
        which = np.flatnonzero(out <= -2)
        if which.shape[0]:
            # one tuple: mypy cannot count the arguments given after a starred tuple
            _leaf_pass(*(xs, ys, which, *self._leaf_arrays(), out, on_boundary))
        return LocateResult(out, on_boundary)

    def locate_one(self, lon: float, lat: float) -> tuple[int, bool]:
        s = self._state
        x0, y0, inv, nx, ny = s["frame"]
        g, on = _locate_one(float(lon), float(lat), x0, y0, inv, int(nx), int(ny), s["top"],
                            s["nodes"], *self._leaf_arrays())
        return int(g), bool(on)

    def _leaf_arrays(self) -> tuple:
        s = self._state
        return tuple(s[k] for k in ("leaf_qx", "leaf_qy", "leaf_default", "leaf_cand", "cand_grid",
                                    "cand_kind", "cand_ent", "ent_ring", "ent_wn", "ent_edge",
                                    "edges", "bbox", "grid_parts", "part_rings", "ring_verts",
                                    "ring_part", "vx", "vy"))


def _cells(geometry: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The coarse raster, refined cells and leaves over the flattened polygons."""
    from gis import locator_build as lb  # it compiles against this module's exact kernels

    ring_verts, vx, vy = geometry["ring_verts"], geometry["vx"], geometry["vy"]
    vring = np.repeat(np.arange(len(ring_verts) - 1, dtype=np.int32), np.diff(ring_verts))
    ring_grid = np.repeat(np.arange(n, dtype=np.int32),
                          np.diff(geometry["part_rings"][geometry["grid_parts"]]))
    starts = np.arange(max(len(vx) - 1, 0))
    edges = starts[(vring[starts] == vring[starts + 1])
                   & ((vx[starts] != vx[starts + 1]) | (vy[starts] != vy[starts + 1]))]
    bbox = geometry["bbox"]
    finite = np.isfinite(bbox).all(axis=1)
    if not finite.any():
        return {"frame": np.array([0.0, 0.0, 1.0, 1, 1]),
                "top": np.full(1, OUTSIDE, dtype=np.int32), "nodes": np.zeros(0, np.int32),
                "leaf_qx": np.zeros(0), "leaf_qy": np.zeros(0),
                "leaf_default": np.zeros(0, np.int32), "leaf_cand": np.zeros(1, np.int64),
                "cand_grid": np.zeros(0, np.int32), "cand_kind": np.zeros(0, np.int8),
                "cand_ent": np.zeros(1, np.int64), "ent_ring": np.zeros(0, np.int32),
                "ent_wn": np.zeros(0, np.int32), "ent_edge": np.zeros(1, np.int64),
                "edges": np.zeros(0, np.int32)}
    bounds = (bbox[finite, 0].min(), bbox[finite, 1].min(), bbox[finite, 2].max(),
              bbox[finite, 3].max())
    x0, y0, c, nx, ny = lb.frame(bounds, len(edges))
    cell_off, cell_edges, row_off, row_edges = lb.cell_lists(
        edges.astype(np.int32), vx, vy, vring, ring_grid, bbox, x0, y0, c, nx, ny)
    built = lb.build(vx, vy, ring_verts, geometry["part_rings"], geometry["grid_parts"],
                     geometry["ring_part"], ring_grid, vring, bbox, x0, y0, c, nx, ny, cell_off,
                     cell_edges, row_off, row_edges, lb.JITTER, lb.LEAF_EDGES, lb.DEPTH)
    names = ("top", "nodes", "leaf_qx", "leaf_qy", "leaf_default", "leaf_cand", "cand_grid",
             "cand_kind", "cand_ent", "ent_ring", "ent_wn", "ent_edge", "edges")
    return {"frame": np.array([x0, y0, 1.0 / c, nx, ny]), **dict(zip(names, built, strict=True))}
