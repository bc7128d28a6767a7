"""GPS tracks as phones record them, cleaned: points out of time order or at the same instant
are dropped, a point that would need an impossible speed from the last kept one is a spike and
is dropped, and points within a few metres of the last kept one while standing still are one
stop. Distances are geodesic metres (gis/metric.py), never degrees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gis.metric import distance_m


@dataclass(frozen=True)
class CleanTrack:
    keep: np.ndarray  # indices of the points kept, in order
    length_m: float
    dropped_spikes: int
    merged_stops: int


def clean(lon: np.ndarray, lat: np.ndarray, t: np.ndarray, *, max_speed_ms: float,
          stop_m: float = 5.0) -> CleanTrack:
    """``t``: seconds (any origin), one per point."""
    order = np.argsort(t, kind="stable")
    lon, lat, t = lon[order], lat[order], t[order]
    keep = [0] if len(t) else []
    spikes = stops = 0
    for i in range(1, len(t)):
        j = keep[-1]
        dt = t[i] - t[j]
        if dt <= 0:
            continue
        d = float(distance_m(lon[j], lat[j], lon[i], lat[i]))
        if d / dt > max_speed_ms:
            spikes += 1
            continue
        if d < stop_m:
            stops += 1
            continue
        keep.append(i)
    if len(t) > 1 and keep[-1] != len(t) - 1 and len(keep) >= 1:
        last = len(t) - 1  # the end of the patrol counts for its time, even after a stop
        d = float(distance_m(lon[keep[-1]], lat[keep[-1]], lon[last], lat[last]))
        if t[last] > t[keep[-1]] and d / (t[last] - t[keep[-1]]) <= max_speed_ms:
            keep.append(last)
    kept = np.asarray(order[keep], dtype=np.int64)
    k = np.asarray(keep, dtype=np.int64)
    length = float(np.sum(distance_m(lon[k[:-1]], lat[k[:-1]], lon[k[1:]], lat[k[1:]]))) \
        if len(k) > 1 else 0.0
    return CleanTrack(kept, length, spikes, stops)
