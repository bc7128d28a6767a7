"""Building the adaptive point → grid index of gis/locator.py (read its docstring first).

One compiled pass over the rows of the coarse raster, and a depth-first refinement of each cell
an edge comes near:

1. **Edges to cells.** Every edge is registered in the coarse cells it comes within ``MARGIN``
   of (column by column along the segment, so a long edge costs its length, not its bounding
   box) and in the rows it spans. Both lists cost O(E + L / c0): edges plus boundary length over
   the cell size.
2. **The row sweep.** Along the horizontal line through each row, the edges crossing it are
   sorted by where they cross; walking left to right, the winding number of every ring is kept
   up to date (a crossing passed is no longer to the right), so each cell's reference point gets
   the winding number liblwgeom would compute there without a point-in-ring test. A cell no edge
   comes near is *pure*: its label is the smallest grid (in code order) that contains it.
3. **Refinement.** A cell an edge comes near keeps, per candidate grid (the grids whose edges
   come near, in tie-break order, up to the first grid that covers the whole cell), the rings of
   its parts near the cell with their winding number at the reference point and their edges
   near the cell. It is split into 4 × 4 children while it holds more than ``LEAF_EDGES`` edges,
   at most ``DEPTH`` times; a child's winding numbers are its parent's plus the crossings of the
   step between the two reference points, counted on the parent's edges only.

Every sign decided here goes through Shewchuk's error filter (``_side``); a reference point or
step it cannot decide is moved (``JITTER``), and a cell where none is certain keeps its grids for
the full liblwgeom replay, as the raster before did for every edge cell.

A cell's children are made in gis/locator_refine.py. Every kernel releases the GIL (``nogil``),
so a build in a thread runs beside a live index.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gis.locator import TINY2, _side
from gis.locator_refine import MARGIN, NODE, B, _child

LEAF_EDGES = 8
DEPTH = 5
CELLS_PER_EDGE = 128  # coarse raster cells per edge (bounded below and above)
MIN_CELLS, MAX_CELLS = 1 << 10, 1 << 22
# reference points tried in a cell, as fractions of its side (an R2 low-discrepancy sequence)
JITTER = np.array([[(0.5 + k * 0.7548776662466927) % 1.0, (0.5 + k * 0.5698402909980532) % 1.0]
                   for k in range(24)])
ROW_FRACTION = 0.50159154943  # the sweep line of a row: off the centre, off round numbers
_NONE = np.iinfo(np.int32).max  # no grid covers the cell (as in gis/locator_refine.py)


@numba.njit(cache=True, nogil=True)
def cell_lists(edges, vx, vy, vring, ring_grid, bbox, x0, y0, c, nx, ny):
    """(offsets, edges) of every coarse cell, each list in edge order; and the same per row."""
    m = MARGIN
    cell_n = np.zeros(nx * ny + 1, dtype=np.int64)
    row_n = np.zeros(ny + 1, dtype=np.int64)
    cell_out = np.empty(0, dtype=np.int32)
    row_out = np.empty(0, dtype=np.int32)
    cell_fill = np.empty(0, dtype=np.int64)
    row_fill = np.empty(0, dtype=np.int64)
    for stage in range(2):
        if stage == 1:
            cell_off = _offsets(cell_n)
            row_off = _offsets(row_n)
            cell_out = np.empty(cell_off[-1], dtype=np.int32)
            row_out = np.empty(row_off[-1], dtype=np.int32)
            cell_fill = cell_off[:-1].copy()
            row_fill = row_off[:-1].copy()
        for e in edges:
            ax, ay, bx, by = vx[e], vy[e], vx[e + 1], vy[e + 1]
            j0 = max(0, int((min(ay, by) - y0) / c))
            j1 = min(ny - 1, int((max(ay, by) - y0) / c))
            for j in range(j0, j1 + 1):
                if stage == 0:
                    row_n[j] += 1
                else:
                    row_out[row_fill[j]] = e
                    row_fill[j] += 1
            box = bbox[ring_grid[vring[e]]]
            tiny = (bx - ax) * (bx - ax) + (by - ay) * (by - ay) < TINY2
            lo_x, hi_x = (box[0], box[2]) if tiny else (min(ax, bx), max(ax, bx))
            i0 = max(0, int((lo_x - m - x0) / c))
            i1 = min(nx - 1, int((hi_x + m - x0) / c))
            for i in range(i0, i1 + 1):
                xl, xr = x0 + i * c - m, x0 + (i + 1) * c + m
                if tiny:
                    ylo, yhi = box[1], box[3]
                elif ax == bx:
                    ylo, yhi = min(ay, by), max(ay, by)
                else:
                    t0, t1 = (xl - ax) / (bx - ax), (xr - ax) / (bx - ax)
                    if t0 > t1:
                        t0, t1 = t1, t0
                    t0, t1 = max(t0, 0.0), min(t1, 1.0)
                    if t0 > t1:
                        continue
                    ya, yb = ay + t0 * (by - ay), ay + t1 * (by - ay)
                    ylo, yhi = min(ya, yb), max(ya, yb)
                k0 = max(0, int((ylo - m - y0) / c))
                k1 = min(ny - 1, int((yhi + m - y0) / c))
                for k in range(k0, k1 + 1):
                    cell = k * nx + i
                    if stage == 0:
                        cell_n[cell] += 1
                    else:
                        cell_out[cell_fill[cell]] = e
                        cell_fill[cell] += 1
    return cell_off, cell_out, row_off, row_out


@numba.njit(cache=True, nogil=True, inline="always")
def _inside_wn(g, wn, grid_parts, part_rings):
    """liblwgeom's point_in_multipolygon from certain ring winding numbers: inside a part's
    exterior and none of its holes."""
    for p in range(grid_parts[g], grid_parts[g + 1]):
        r0, r1 = part_rings[p], part_rings[p + 1]
        if wn[r0] == 0:
            continue
        inside = True
        for r in range(r0 + 1, r1):
            if wn[r] != 0:
                inside = False
                break
        if inside:
            return True
    return False


@numba.njit(cache=True, nogil=True, inline="always")
def _pass(r, s, wn, nonzero, active, apos, n_active, ring_grid):
    """The sweep passes a crossing of ring ``r``: it is no longer to the right; a grid with a
    ring of nonzero winding number is active. Returns the number of active grids."""
    g = ring_grid[r]
    before = wn[r]
    wn[r] -= s
    if before == 0 and wn[r] != 0:
        nonzero[g] += 1
        if nonzero[g] == 1:
            active[n_active] = g
            apos[g] = n_active
            n_active += 1
    elif before != 0 and wn[r] == 0:
        nonzero[g] -= 1
        if nonzero[g] == 0:
            last = active[n_active - 1]
            active[apos[g]] = last
            apos[last] = apos[g]
            apos[g] = -1
            n_active -= 1
    return n_active


@numba.njit(cache=True, nogil=True)
def _grow(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=a.dtype)
    for i in range(a.shape[0]):  # a loop, not ``b[:n] = a``: see _offsets
        b[i] = a[i]
    return b


@numba.njit(cache=True, nogil=True)
def _argsort(x, n):
    """The indices that sort ``x[:n]``, equal values in any order (the sweep sums crossings):
    a heapsort, as ``np.argsort`` compiles numba's quicksort (~3 s on a fresh checkout)."""
    idx = np.arange(n)
    for start in range(n // 2 - 1, -1, -1):
        _sift(x, idx, start, n)
    for end in range(n - 1, 0, -1):
        idx[0], idx[end] = idx[end], idx[0]
        _sift(x, idx, 0, end)
    return idx


@numba.njit(cache=True, nogil=True)
def _sift(x, idx, root, end):
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and x[idx[child]] < x[idx[child + 1]]:
            child += 1
        if x[idx[root]] >= x[idx[child]]:
            return
        idx[root], idx[child] = idx[child], idx[root]
        root = child


@numba.njit(cache=True, nogil=True)
def _offsets(counts):
    """[0, counts[0], counts[0] + counts[1], …], as a loop: ``off[1:] = np.cumsum(…)`` makes
    numba compile its shape-error message (string formatting, ~4 s on a fresh checkout)."""
    off = np.zeros(counts.shape[0], dtype=np.int64)
    for i in range(1, counts.shape[0]):
        off[i] = off[i - 1] + counts[i - 1]
    return off


@numba.njit(cache=True, nogil=True)
def build(vx, vy, ring_verts, part_rings, grid_parts, ring_part, ring_grid, vring, bbox,
          x0, y0, c, nx, ny, cell_off, cell_edges, row_off, row_edges, jitter, leaf_edges, depth):
    """The cells, refined cells and leaves of the index (see the module docstring)."""
    n_rings, n_grids = ring_verts.shape[0] - 1, grid_parts.shape[0] - 1
    m = MARGIN
    nj = jitter.shape[0]
    top = np.full(nx * ny, -1, dtype=np.int32)
    # the running winding number of every ring on the sweep line, and the grids it makes active
    wn = np.zeros(n_rings, dtype=np.int32)
    nonzero = np.zeros(n_grids, dtype=np.int32)
    active = np.empty(n_grids, dtype=np.int32)
    apos = np.full(n_grids, -1, dtype=np.int64)
    n_active = 0
    ring_mark = np.zeros(n_rings, dtype=np.int64)
    grid_mark = np.zeros(n_grids, dtype=np.int64)
    tiny_mark = np.zeros(n_grids, dtype=np.int64)
    stamp = 0
    # scratch of the refinement, one row per depth (a child holds no more than its parent)
    cap_e = 1
    cap_x = 1
    for cell in range(nx * ny):
        n = cell_off[cell + 1] - cell_off[cell]
        cap_x = max(cap_x, n)
        last = -1
        rings = 0
        for k in range(cell_off[cell], cell_off[cell + 1]):
            g = ring_grid[vring[cell_edges[k]]]
            if g != last:
                rings += part_rings[grid_parts[g + 1]] - part_rings[grid_parts[g]]
                last = g
        cap_e = max(cap_e, rings)
    D = depth + 1
    s_xl, s_yl, s_sz = np.zeros(D), np.zeros(D), np.zeros(D)
    s_qx, s_qy = np.zeros(D), np.zeros(D)
    s_const = np.zeros(D, dtype=np.int32)
    s_nc = np.zeros(D, dtype=np.int64)
    c_grid = np.zeros((D, cap_x), dtype=np.int32)
    c_kind = np.zeros((D, cap_x), dtype=np.int8)
    c_e0 = np.zeros((D, cap_x), dtype=np.int64)
    c_e1 = np.zeros((D, cap_x), dtype=np.int64)
    e_ring = np.zeros((D, cap_e), dtype=np.int32)
    e_wn = np.zeros((D, cap_e), dtype=np.int32)
    e_x0 = np.zeros((D, cap_e), dtype=np.int64)
    e_x1 = np.zeros((D, cap_e), dtype=np.int64)
    x_edge = np.zeros((D, cap_x), dtype=np.int32)
    # a child's view of its parent's entries: its edges near the child, its winding number there
    p_x0 = np.zeros(cap_e, dtype=np.int64)
    p_x1 = np.zeros(cap_e, dtype=np.int64)
    p_wn = np.zeros(cap_e, dtype=np.int32)
    node_of = np.zeros(D, dtype=np.int64)
    next_child = np.zeros(D, dtype=np.int64)
    # the output
    nodes = np.zeros(1024, dtype=np.int32)
    n_nodes = 0
    leaf_qx, leaf_qy = np.zeros(1024), np.zeros(1024)
    leaf_default = np.zeros(1024, dtype=np.int32)
    leaf_cand = np.zeros(1025, dtype=np.int64)
    n_leaves = 0
    cand_grid = np.zeros(1024, dtype=np.int32)
    cand_kind = np.zeros(1024, dtype=np.int8)
    cand_ent = np.zeros(1025, dtype=np.int64)
    n_cand = 0
    ent_ring = np.zeros(1024, dtype=np.int32)
    ent_wn = np.zeros(1024, dtype=np.int32)
    ent_edge = np.zeros(1025, dtype=np.int64)
    n_ent = 0
    out_edges = np.zeros(1024, dtype=np.int32)
    n_edges = 0
    # crossings of the current sweep line
    cross_x = np.zeros(max(1, row_edges.shape[0]))
    cross_e = np.zeros(max(1, row_edges.shape[0]), dtype=np.int32)
    cross_s = np.zeros(max(1, row_edges.shape[0]), dtype=np.int32)
    undo = np.zeros(max(1, row_edges.shape[0]), dtype=np.int64)

    for j in range(ny):
        yl = y0 + j * c
        y_row = yl + ROW_FRACTION * c
        n_cross = 0
        for k in range(row_off[j], row_off[j + 1]):
            e = row_edges[k]
            ax, ay, bx, by = vx[e], vy[e], vx[e + 1], vy[e + 1]
            if ay <= y_row and y_row < by:
                s = 1
            elif by <= y_row and y_row < ay:
                s = -1
            else:
                continue
            cross_x[n_cross] = ax + (y_row - ay) * (bx - ax) / (by - ay)
            cross_e[n_cross] = e
            cross_s[n_cross] = s
            n_cross += 1
        order = _argsort(cross_x, n_cross)
        ptr = 0
        for i in range(nx):
            xl = x0 + i * c
            xr = xl + c
            # crossings certainly left of the cell are passed
            while ptr < n_cross and cross_x[order[ptr]] < xl - m:
                o = order[ptr]
                n_active = _pass(vring[cross_e[o]], cross_s[o], wn, nonzero, active, apos,
                                 n_active, ring_grid)
                ptr += 1
            cell = j * nx + i
            lo, hi = cell_off[cell], cell_off[cell + 1]
            stamp += 1
            n_cg = 0
            for k in range(lo, hi):
                e = cell_edges[k]
                r = vring[e]
                ring_mark[r] = stamp
                g = ring_grid[r]
                if grid_mark[g] != stamp:
                    grid_mark[g] = stamp
                    c_grid[0, n_cg] = g
                    n_cg += 1
                if (vx[e + 1] - vx[e]) ** 2 + (vy[e + 1] - vy[e]) ** 2 < TINY2:
                    tiny_mark[g] = stamp
            # the reference point: on the sweep line, certain for every edge near the cell
            qx, qy = xl + 0.5 * c, y_row
            found = hi == lo
            for t in range(nj if hi > lo else 0):
                qx = xl + jitter[t, 0] * c
                found = True
                for k in range(lo, hi):
                    e = cell_edges[k]
                    if (vx[e + 1] - vx[e]) ** 2 + (vy[e + 1] - vy[e]) ** 2 < TINY2:
                        continue
                    if not _side(vx[e], vy[e], vx[e + 1], vy[e + 1], qx, qy)[1]:
                        found = False
                        break
                if found:
                    break
            if not found:
                qx = xl + 0.5 * c
            # crossings within the margin of the cell: right or left of q, by liblwgeom's test
            n_undo = 0
            k = ptr
            while k < n_cross and cross_x[order[k]] <= xr + m:
                o = order[k]
                e = cross_e[o]
                side = _side(vx[e], vy[e], vx[e + 1], vy[e + 1], qx, qy)[0]
                if not ((cross_s[o] > 0 and side > 0.0) or (cross_s[o] < 0 and side < 0.0)):
                    wn[vring[e]] -= cross_s[o]
                    undo[n_undo] = o
                    n_undo += 1
                k += 1
            const = _NONE
            for a in range(n_active):
                g = active[a]
                if grid_mark[g] != stamp and g < const and _inside_wn(g, wn, grid_parts, part_rings):
                    const = g
            # the candidates, in tie-break order, up to the first grid covering the cell
            n_c = 0
            n_e = 0
            n_x = 0
            for a in range(n_cg):
                g = c_grid[0, a]
                if g >= const:
                    break
                replay = (not found) or tiny_mark[g] == stamp
                first_e = n_e
                tail = -1
                for p in range(grid_parts[g], grid_parts[g + 1]):
                    r0, r1 = part_rings[p], part_rings[p + 1]
                    near = False
                    for r in range(r0, r1):
                        near = near or ring_mark[r] == stamp
                    if not near:
                        if replay:
                            continue
                        inside = wn[r0] != 0
                        for r in range(r0 + 1, r1):
                            inside = inside and wn[r] == 0
                        if inside:
                            tail = 1
                            break
                        continue
                    for r in range(r0, r1):
                        if replay and ring_mark[r] != stamp:
                            continue
                        e_ring[0, n_e] = r
                        e_wn[0, n_e] = wn[r]
                        e_x0[0, n_e] = n_x
                        if ring_mark[r] == stamp:
                            for kk in range(lo, hi):
                                if vring[cell_edges[kk]] == r:
                                    x_edge[0, n_x] = cell_edges[kk]
                                    n_x += 1
                        e_x1[0, n_e] = n_x
                        n_e += 1
                if n_e == first_e:
                    if tail == 1:
                        const = g
                        break
                    continue
                c_grid[0, n_c] = g
                c_kind[0, n_c] = 0 if replay else tail
                c_e0[0, n_c] = first_e
                c_e1[0, n_c] = n_e
                n_c += 1
            for u in range(n_undo):
                o = undo[u]
                wn[vring[cross_e[o]]] += cross_s[o]
            if n_c == 0:
                top[cell] = const if const != _NONE else -1
                continue
            s_xl[0], s_yl[0], s_sz[0] = xl, yl, c
            s_qx[0], s_qy[0] = (qx, qy) if found else (np.nan, np.nan)
            s_const[0] = const
            s_nc[0] = n_c

            # -- the cell refined, depth first: one place writes every cell ---------------------
            status = 1 if (n_x <= leaf_edges or depth == 0 or not found) else 2
            label = 0
            target, slot = 0, -1
            while True:
                if status == 0:
                    ref = label
                elif status == 1:  # a leaf from the scratch at depth ``target``
                    leaf_qx = _grow(leaf_qx, n_leaves + 1)
                    leaf_qy = _grow(leaf_qy, n_leaves + 1)
                    leaf_default = _grow(leaf_default, n_leaves + 1)
                    leaf_cand = _grow(leaf_cand, n_leaves + 2)
                    leaf_qx[n_leaves], leaf_qy[n_leaves] = s_qx[target], s_qy[target]
                    leaf_default[n_leaves] = s_const[target] if s_const[target] != _NONE else -1
                    for a in range(s_nc[target]):
                        cand_grid = _grow(cand_grid, n_cand + 1)
                        cand_kind = _grow(cand_kind, n_cand + 1)
                        cand_ent = _grow(cand_ent, n_cand + 2)
                        cand_grid[n_cand] = c_grid[target, a]
                        cand_kind[n_cand] = c_kind[target, a]
                        if c_kind[target, a] != 0:
                            for en in range(c_e0[target, a], c_e1[target, a]):
                                ent_ring = _grow(ent_ring, n_ent + 1)
                                ent_wn = _grow(ent_wn, n_ent + 1)
                                ent_edge = _grow(ent_edge, n_ent + 2)
                                ent_ring[n_ent] = e_ring[target, en]
                                ent_wn[n_ent] = e_wn[target, en]
                                x0_, x1_ = e_x0[target, en], e_x1[target, en]
                                out_edges = _grow(out_edges, n_edges + x1_ - x0_)
                                for xx in range(x0_, x1_):
                                    out_edges[n_edges] = x_edge[target, xx]
                                    n_edges += 1
                                n_ent += 1
                                ent_edge[n_ent] = n_edges
                        n_cand += 1
                        cand_ent[n_cand] = n_ent
                    n_leaves += 1
                    leaf_cand[n_leaves] = n_cand
                    ref = -2 - (n_leaves - 1)
                else:  # refined: its children come next
                    nodes = _grow(nodes, (n_nodes + 1) * B * B)
                    node_of[target] = n_nodes
                    next_child[target] = 0
                    ref = NODE + n_nodes
                    n_nodes += 1
                if slot < 0:
                    top[cell] = ref
                else:
                    nodes[slot] = ref
                d = target if status == 2 else target - 1
                while d >= 0 and next_child[d] == B * B:
                    d -= 1
                if d < 0:
                    break
                ch = next_child[d]
                next_child[d] += 1
                status, label = _child(d, ch, s_xl, s_yl, s_sz, s_qx, s_qy, s_const, s_nc,
                                       c_grid, c_kind, c_e0, c_e1, e_ring, e_wn, e_x0, e_x1,
                                       x_edge, p_x0, p_x1, p_wn, vx, vy, ring_verts, part_rings,
                                       grid_parts, ring_part, ring_grid, bbox, jitter,
                                       leaf_edges, depth)
                target, slot = d + 1, node_of[d] * B * B + ch
        # the line's remaining crossings: every ring's winding number is back to zero
        while ptr < n_cross:
            o = order[ptr]
            n_active = _pass(vring[cross_e[o]], cross_s[o], wn, nonzero, active, apos, n_active,
                             ring_grid)
            ptr += 1
    return (top, nodes[:n_nodes * B * B].copy(), leaf_qx[:n_leaves].copy(),
            leaf_qy[:n_leaves].copy(), leaf_default[:n_leaves].copy(),
            leaf_cand[:n_leaves + 1].copy(), cand_grid[:n_cand].copy(),
            cand_kind[:n_cand].copy(), cand_ent[:n_cand + 1].copy(), ent_ring[:n_ent].copy(),
            ent_wn[:n_ent].copy(), ent_edge[:n_ent + 1].copy(), out_edges[:n_edges].copy())


def frame(bounds: tuple[float, float, float, float], edges: int) -> tuple[float, float, float,
                                                                          int, int]:
    """(x0, y0, cell, nx, ny) of the coarse raster: about CELLS_PER_EDGE cells per edge, so its
    size follows the boundaries, not the area, within [MIN_CELLS, MAX_CELLS]."""
    min_x, min_y, max_x, max_y = bounds
    w, h = max(max_x - min_x, 1e-9), max(max_y - min_y, 1e-9)
    cells = min(MAX_CELLS, max(MIN_CELLS, CELLS_PER_EDGE * edges))
    c = math.sqrt(w * h / cells)
    c = min(c, max(w, h))
    return (min_x - c, min_y - c, c, math.ceil(w / c) + 3, math.ceil(h / c) + 3)


