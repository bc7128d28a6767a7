"""What a camera sees: a sector from its position, centred on its heading (degrees from north,
clockwise), ``fov`` degrees wide and ``range`` metres deep, measured on the ellipsoid."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from pyproj import Geod

_GEOD = Geod(ellps="WGS84")


def sees(cam_lon: ArrayLike, cam_lat: ArrayLike, heading: ArrayLike, fov: ArrayLike,
         range_m: ArrayLike, lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """True where the point (lon, lat) lies within the camera's view sector."""
    cam_lon, cam_lat, heading, fov, range_m, lon, lat = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (cam_lon, cam_lat, heading, fov, range_m, lon, lat)))
    azimuth, _back, dist = _GEOD.inv(cam_lon, cam_lat, lon, lat)
    off = np.abs((np.asarray(azimuth) - heading + 180.0) % 360.0 - 180.0)
    return (np.asarray(dist) <= range_m) & ((fov >= 360.0) | (off <= fov / 2.0) | (dist == 0))


def viewed_point(cam_lon: float, cam_lat: float, heading: float, range_m: float) -> tuple[float, float]:
    """The place a camera looks at: along its heading, half its range (at most 30 m) away —
    where an AI alert's incident is, rather than the mast."""
    distance = min(range_m / 2.0, 30.0)
    lon, lat, _ = _GEOD.fwd(cam_lon, cam_lat, heading, distance)
    return float(lon), float(lat)


def sector(cam_lon: float, cam_lat: float, heading: float, fov: float, range_m: float,
           steps: int = 16) -> list[tuple[float, float]]:
    """The view sector as a closed ring of lon/lat points (for maps)."""
    if fov >= 360:
        angles = np.linspace(0, 360, 4 * steps + 1)
        ring = [_GEOD.fwd(cam_lon, cam_lat, a, range_m)[:2] for a in angles]
        return [(float(x), float(y)) for x, y in ring]
    angles = np.linspace(heading - fov / 2, heading + fov / 2, steps + 1)
    ring = [(cam_lon, cam_lat)] + [_GEOD.fwd(cam_lon, cam_lat, a, range_m)[:2] for a in angles]
    ring.append((cam_lon, cam_lat))
    return [(float(x), float(y)) for x, y in ring]
