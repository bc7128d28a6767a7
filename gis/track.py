"""GPS tracks as phones record them, cleaned: points out of time order or at the same instant
are dropped, a point that would need an impossible speed from the last kept one is a spike and
is dropped, and points within a few metres of the last kept one while standing still are one
stop. Distances are metres (Gauss–Krüger for the decisions, geodesic for the length: gis/metric.py),
never degrees."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from gis.crs import transform_xy
from gis.metric import distance_m


@dataclass(frozen=True)
class CleanTrack:
    keep: np.ndarray  # indices of the points kept, in order
    length_m: float
    dropped_spikes: int
    merged_stops: int


def clean(lon: np.ndarray, lat: np.ndarray, t: np.ndarray, *, max_speed_ms: float,
          stop_m: float = 5.0) -> CleanTrack:
    """``t``: seconds (any origin), one per point. The greedy pass (each point against the last
    one kept) runs compiled on the track in Gauss–Krüger metres (the CGCS2000 3° zone of the
    track: scale error below 1e-4 within a zone, so a 5 m stop is decided to half a millimetre);
    the length of what is kept is geodesic."""
    lon, lat, t = (np.asarray(v, dtype=np.float64) for v in (lon, lat, t))
    order = np.argsort(t, kind="stable")
    lon, lat, t = lon[order], lat[order], t[order]
    if len(t) == 0:
        return CleanTrack(np.zeros(0, dtype=np.int64), 0.0, 0, 0)
    cm = min(max(round(float(np.mean(lon)) / 3) * 3, 75), 135)  # clamped: any track is measured
    x, y = transform_xy(lon, lat, "wgs84", f"EPSG:{4534 + (cm - 75) // 3}")
    keep, spikes, stops = _greedy(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                                  t, float(max_speed_ms), float(stop_m))
    kept = np.asarray(order[keep], dtype=np.int64)
    length = float(np.sum(distance_m(lon[keep[:-1]], lat[keep[:-1]], lon[keep[1:]],
                                     lat[keep[1:]]))) if len(keep) > 1 else 0.0
    return CleanTrack(kept, length, int(spikes), int(stops))


@numba.njit(cache=True)
def _greedy(x, y, t, max_speed, stop_m):
    """Indices kept: a point is dropped when it needs more than ``max_speed`` from the last kept
    one (a spike) or lies within ``stop_m`` of it (standing still); the last point counts for its
    time even after a stop."""
    n = len(t)
    keep = np.empty(n, dtype=np.int64)
    keep[0] = 0
    k, spikes, stops = 1, 0, 0
    for i in range(1, n):
        j = keep[k - 1]
        dt = t[i] - t[j]
        if dt <= 0:
            continue
        d = np.hypot(x[i] - x[j], y[i] - y[j])
        if d / dt > max_speed:
            spikes += 1
            continue
        if d < stop_m:
            stops += 1
            continue
        keep[k] = i
        k += 1
    last = n - 1
    if n > 1 and keep[k - 1] != last:
        j = keep[k - 1]
        d = np.hypot(x[last] - x[j], y[last] - y[j])
        if t[last] > t[j] and d / (t[last] - t[j]) <= max_speed:
            keep[k] = last
            k += 1
    return keep[:k].copy(), spikes, stops
