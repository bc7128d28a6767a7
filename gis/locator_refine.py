"""A refined cell's children, for the build of gis/locator_build.py (read its docstring).

A child keeps, of its parent's candidates and their rings, what is near it; its reference point
must be certain for the edges near it, and the step from its parent's reference point certain
for the parent's edges — then its winding numbers are the parent's plus the signed crossings of
that step. Where no step is certain its winding numbers are counted in full (liblwgeom's
winding number at a certain point); where no point is certain it becomes a full-replay leaf.
"""

from __future__ import annotations

import numba
import numpy as np

from gis.locator import TINY2, _classify, _side, _winding_number

MARGIN = 1e-9  # degrees (~0.1 mm): an edge farther than this from a cell never decides in it
B = 4  # a refined cell has B × B children
NODE = 1 << 30  # a cell entry >= NODE is a refined cell; 0..n-1 a grid; -1 outside; <= -2 a leaf
_NONE = np.iinfo(np.int32).max  # no grid covers the cell


@numba.njit(cache=True, nogil=True, inline="always")
def _crossing(ax, ay, bx, by, qx, qy, sq, px, py, sp):
    """How the step q → p changes the winding number of a ring with edge a → b: +1 crossing it
    from its right to its left, -1 the other way, 0 no crossing, 2 undecided. ``sq``/``sp`` are
    the (certain, nonzero) sides of q and p."""
    if (sp > 0.0) == (sq > 0.0):
        return 0
    oa, sure_a = _side(qx, qy, px, py, ax, ay)
    ob, sure_b = _side(qx, qy, px, py, bx, by)
    if not (sure_a and sure_b):
        return 2
    if (oa > 0.0) == (ob > 0.0):
        return 0
    return 1 if sp > 0.0 else -1


@numba.njit(cache=True, nogil=True, inline="always")
def _near_rect(ax, ay, bx, by, xl, yl, xr, yr):
    """Does segment a-b meet the rectangle (already grown by the margin)? Liang–Barsky."""
    t0, t1 = 0.0, 1.0
    dx, dy = bx - ax, by - ay
    for k in range(4):
        if k == 0:
            p, q = -dx, ax - xl
        elif k == 1:
            p, q = dx, xr - ax
        elif k == 2:
            p, q = -dy, ay - yl
        else:
            p, q = dy, yr - ay
        if p == 0.0:
            if q < 0.0:
                return False
        else:
            r = q / p
            if p < 0.0:
                if r > t1:
                    return False
                t0 = max(t0, r)
            else:
                if r < t0:
                    return False
                t1 = min(t1, r)
    return True


@numba.njit(cache=True, nogil=True, inline="always")
def _edge_near(e, vx, vy, tiny_grid_box, xl, yl, xr, yr):
    """Is edge ``e`` near the rectangle? A tiny edge (liblwgeom skips it, which breaks its ring
    for points level with it) is near everywhere in its grid's bounding box."""
    ax, ay, bx, by = vx[e], vy[e], vx[e + 1], vy[e + 1]
    if (bx - ax) * (bx - ax) + (by - ay) * (by - ay) < TINY2:
        return not (tiny_grid_box[2] < xl or tiny_grid_box[0] > xr
                    or tiny_grid_box[3] < yl or tiny_grid_box[1] > yr)
    return _near_rect(ax, ay, bx, by, xl, yl, xr, yr)


@numba.njit(cache=True, nogil=True)
def _child(d, ch, s_xl, s_yl, s_sz, s_qx, s_qy, s_const, s_nc, c_grid, c_kind, c_e0, c_e1,
           e_ring, e_wn, e_x0, e_x1, x_edge, p_x0, p_x1, p_wn, vx, vy, ring_verts, part_rings,
           grid_parts, ring_part, ring_grid, bbox, jitter, leaf_edges, depth):
    """Child ``ch`` of the cell at depth ``d``, written at depth d + 1. Returns (status, label):
    0 pure (label: the grid, or -1), 1 a leaf, 2 to be refined."""
    m = MARGIN
    s = s_sz[d] / B
    xl = s_xl[d] + (ch % B) * s
    yl = s_yl[d] + (ch // B) * s
    rxl, ryl, rxr, ryr = xl - m, yl - m, xl + s + m, yl + s + m
    n = d + 1
    s_xl[n], s_yl[n], s_sz[n] = xl, yl, s
    # the parent's edges near the child, per entry
    n_x = 0
    for a in range(s_nc[d]):
        box = bbox[c_grid[d, a]]
        for en in range(c_e0[d, a], c_e1[d, a]):
            p_x0[en] = n_x
            for xx in range(e_x0[d, en], e_x1[d, en]):
                e = x_edge[d, xx]
                if _edge_near(e, vx, vy, box, rxl, ryl, rxr, ryr):
                    x_edge[n, n_x] = e
                    n_x += 1
            p_x1[en] = n_x
    # the child's reference point: certain for the edges near it, and a certain step from the
    # parent's (else its winding numbers are counted in full)
    qx0, qy0 = s_qx[d], s_qy[d]
    chosen = -1
    stepped = False
    for t in range(jitter.shape[0]):
        qx, qy = xl + jitter[t, 0] * s, yl + jitter[t, 1] * s
        sure = True
        for a in range(s_nc[d]):
            if c_kind[d, a] == 0:
                continue
            for en in range(c_e0[d, a], c_e1[d, a]):
                for xx in range(p_x0[en], p_x1[en]):
                    e = x_edge[n, xx]
                    if not _side(vx[e], vy[e], vx[e + 1], vy[e + 1], qx, qy)[1]:
                        sure = False
                        break
                if not sure:
                    break
            if not sure:
                break
        if not sure:
            continue
        if chosen < 0:
            chosen = t
        stepped = True
        for a in range(s_nc[d]):
            if c_kind[d, a] == 0:
                continue
            for en in range(c_e0[d, a], c_e1[d, a]):
                w = e_wn[d, en]
                for xx in range(e_x0[d, en], e_x1[d, en]):
                    e = x_edge[d, xx]
                    ax, ay, bx, by = vx[e], vy[e], vx[e + 1], vy[e + 1]
                    sp, sure_p = _side(ax, ay, bx, by, qx, qy)
                    sq = _side(ax, ay, bx, by, qx0, qy0)[0]
                    cr = _crossing(ax, ay, bx, by, qx0, qy0, sq, qx, qy, sp) if sure_p else 2
                    if cr == 2:
                        stepped = False
                        break
                    w += cr
                if not stepped:
                    break
                p_wn[en] = w
            if not stepped:
                break
        if stepped:
            chosen = t
            break
    found = chosen >= 0
    if found:
        qx, qy = xl + jitter[chosen, 0] * s, yl + jitter[chosen, 1] * s
        if not stepped:
            for a in range(s_nc[d]):
                if c_kind[d, a] == 0:
                    continue
                for en in range(c_e0[d, a], c_e1[d, a]):
                    r = e_ring[d, en]
                    p_wn[en] = _winding_number(qx, qy, vx, vy, ring_verts[r], ring_verts[r + 1])[0]
        s_qx[n], s_qy[n] = qx, qy
    else:
        s_qx[n], s_qy[n] = np.nan, np.nan
    cx, cy = xl + 0.5 * s, yl + 0.5 * s
    const = s_const[d]
    n_c = 0
    n_e = 0
    total = 0
    for a in range(s_nc[d]):
        g = c_grid[d, a]
        if g >= const:
            break
        near_any = False
        for en in range(c_e0[d, a], c_e1[d, a]):
            near_any = near_any or p_x1[en] > p_x0[en]
        first_e = n_e
        tail = c_kind[d, a]
        if c_kind[d, a] == 0 or not found:
            if not near_any:  # its edges are all far: one replay decides the whole child
                if _classify(cx, cy, g, grid_parts, part_rings, ring_verts, vx, vy) == 1 and \
                        bbox[g, 0] <= cx <= bbox[g, 2] and bbox[g, 1] <= cy <= bbox[g, 3]:
                    const = g
                    break
                continue
            for en in range(c_e0[d, a], c_e1[d, a]):
                if p_x1[en] > p_x0[en]:
                    e_ring[n, n_e] = e_ring[d, en]
                    e_x0[n, n_e], e_x1[n, n_e] = p_x0[en], p_x1[en]
                    total += p_x1[en] - p_x0[en]
                    n_e += 1
            tail = 0
        else:
            en = c_e0[d, a]
            while en < c_e1[d, a]:
                part = ring_part[e_ring[d, en]]
                rings = part_rings[part + 1] - part_rings[part]
                near = False
                for k in range(en, en + rings):
                    near = near or p_x1[k] > p_x0[k]
                if not near:
                    inside = p_wn[en] != 0
                    for k in range(en + 1, en + rings):
                        inside = inside and p_wn[k] == 0
                    if inside:
                        tail = 1
                        break
                else:
                    for k in range(en, en + rings):
                        e_ring[n, n_e] = e_ring[d, k]
                        e_wn[n, n_e] = p_wn[k]
                        e_x0[n, n_e], e_x1[n, n_e] = p_x0[k], p_x1[k]
                        total += p_x1[k] - p_x0[k]
                        n_e += 1
                en += rings
            if n_e == first_e:
                if tail == 1:
                    const = g
                    break
                continue
        c_grid[n, n_c] = g
        c_kind[n, n_c] = tail
        c_e0[n, n_c], c_e1[n, n_c] = first_e, n_e
        n_c += 1
    s_const[n] = const
    s_nc[n] = n_c
    if n_c == 0:
        return 0, (const if const != _NONE else -1)
    if total <= leaf_edges or n == depth or not found:
        return 1, 0
    return 2, 0


