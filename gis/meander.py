"""Long rings: a straight edge shared by two polygons redrawn as real boundaries run — along a
river's meanders or the stepped edges of fields — in both polygons at once, vertex for vertex.

Real village boundaries are digitised along field edges and watercourses: several hundred
vertices where a Voronoi tessellation has six straight sides. The demo (layers/demo/city.py)
redraws some shared edges between villages with :func:`replace_shared_edge` so that everyday
tests and benchmarks meet long rings. The two polygons keep every other vertex as it was; the
new edge is the same array of coordinates in both (so they still share it exactly, as PostGIS
and the topology checks require); its ends are the old edge's ends, so the polygons around
them are untouched.

Coordinates are WGS84 degrees; distances in metres through a local equirectangular scale
(exact enough over a kilometre: the offsets are shapes, not measurements).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import shapely

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


def _frame(a: np.ndarray, b: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray, float]:
    """Metres per degree (x, y) at the edge, its unit direction and normal in metres, length."""
    kx = M_PER_DEG_LON_EQUATOR * math.cos(math.radians((a[1] + b[1]) / 2))
    ky = M_PER_DEG_LAT
    d = np.array([(b[0] - a[0]) * kx, (b[1] - a[1]) * ky])
    length = float(np.hypot(*d))
    u = d / length
    return kx, ky, u, np.array([-u[1], u[0]]), length


def river(length: float, width: float, rng: np.random.Generator, step: float = 15.0):
    """(along, offset) metres of a meandering watercourse from 0 to ``length``: a sum of three
    sines of random phase, tapered to 0 at both ends, never farther than ``width`` off."""
    t = np.linspace(0.0, length, max(3, int(length / step)) + 1)
    waves = sum(rng.uniform(0.4, 1.0) * np.sin(2 * np.pi * k * t / length + rng.uniform(0, 2 * np.pi))
                for k in (rng.uniform(1.5, 3.0), rng.uniform(3.0, 6.0), rng.uniform(6.0, 11.0)))
    offset = waves / max(np.abs(waves).max(), 1e-9) * width * _taper(t, length)
    return t, offset


def fields(length: float, width: float, rng: np.random.Generator, step: float = 40.0):
    """(along, offset) metres of a boundary stepping along field edges: straight runs of 30–120 m
    at one offset, a right-angled jog of some 5–40 m to the next (a random walk), digitised every
    ``step`` metres with half a metre of noise; tapered to 0 at both ends, never farther than
    ``width`` off."""
    cuts = [0.0]
    while cuts[-1] < length:
        cuts.append(cuts[-1] + rng.uniform(30.0, 120.0))
    cuts[-1] = length
    jogs = rng.uniform(5.0, 40.0, len(cuts) - 1) * rng.choice([-1.0, 1.0], len(cuts) - 1)
    levels = np.clip(np.cumsum(jogs), -width, width)
    along, off = [], []
    for (t0, t1), level in zip(itertools.pairwise(cuts), levels, strict=True):
        t = np.linspace(t0, t1, max(2, int((t1 - t0) / step)) + 1)
        along.append(t)
        off.append(np.full(len(t), level) + rng.normal(0.0, 0.5, len(t)))
    t, offset = np.concatenate(along), np.concatenate(off)
    offset = np.clip(offset, -width, width) * _taper(t, length)
    return t, offset


def _taper(t: np.ndarray, length: float) -> np.ndarray:
    """1 in the middle, falling linearly to 0 over the first and last fifth."""
    ramp = 0.2 * length
    return np.clip(np.minimum(t, length - t) / ramp, 0.0, 1.0)


def redrawn_edge(a: tuple[float, float], b: tuple[float, float], width_m: float, style: str,
                 rng: np.random.Generator) -> np.ndarray:
    """The inner vertices (n × 2, WGS84) of a boundary from ``a`` to ``b``, in that order:
    ``style`` "river" or "fields", at most ``width_m`` metres off the straight edge."""
    pa, pb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    kx, ky, u, n, length = _frame(pa, pb)
    t, offset = (river if style == "river" else fields)(length, width_m, rng)
    inner = (t > 0) & (t < length)
    xy = t[inner, None] * u + offset[inner, None] * n  # metres from a
    out = pa + xy / np.array([kx, ky])
    # consecutive duplicates (a jog's two vertices may round together) would be zero-length edges
    keep = np.r_[True, np.any(np.diff(out, axis=0) != 0, axis=1)]
    return out[keep]


def replace_shared_edge(p: shapely.Polygon, q: shapely.Polygon, a, b,
                        inner: np.ndarray) -> tuple[shapely.Polygon, shapely.Polygon] | None:
    """``p`` and ``q`` with their common edge ``a``–``b`` (two consecutive exterior vertices of
    each, exactly) replaced by ``a`` → ``inner`` → ``b``; None when the edge is not a single
    exterior segment of both or a result would not be a valid polygon."""
    out = []
    for poly in (p, q):
        ring = shapely.get_coordinates(poly.exterior)
        k = _segment_index(ring, a, b)
        if k is None:
            return None
        forward = np.array_equal(ring[k], a)
        middle = inner if forward else inner[::-1]
        new = shapely.Polygon(np.vstack([ring[:k + 1], middle, ring[k + 1:]]),
                              [shapely.get_coordinates(r) for r in poly.interiors])
        if not new.is_valid:
            return None
        out.append(new)
    tolerance = 1e-9 * (p.area + q.area)
    if (out[0].intersection(out[1]).area > tolerance
            or abs(out[0].area + out[1].area - p.area - q.area) > tolerance):
        return None  # the new edge left the two polygons' union
    return out[0], out[1]


def _segment_index(ring: np.ndarray, a, b) -> int | None:
    """k such that ring[k], ring[k + 1] is the segment a–b in either direction."""
    a, b = np.asarray(a), np.asarray(b)
    starts, ends = ring[:-1], ring[1:]
    hit = np.flatnonzero((np.all(starts == a, axis=1) & np.all(ends == b, axis=1))
                         | (np.all(starts == b, axis=1) & np.all(ends == a, axis=1)))
    return int(hit[0]) if len(hit) == 1 else None
