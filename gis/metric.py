"""Areas, lengths and distances in metres, never in degrees.

Geodesic measures on the WGS84 ellipsoid (pyproj.Geod) are exact and work anywhere, so they are
the default. For planar work (buffers, sectors, snapping) :func:`gauss_kruger_epsg` picks the
CGCS2000 3-degree Gauss–Krüger zone (EPSG:4534–4554, central meridians 75°E–135°E) of a
longitude — EPSG:4548 (CM 117°E) for Jining.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import Geod

_GEOD = Geod(ellps="WGS84")
_GK_FIRST_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
_GK_FIRST_CM = 75
_GK_LAST_CM = 135


def area_m2(geom: shapely.Geometry) -> float:
    """Geodesic area in square metres of a WGS84 (lon/lat) polygonal geometry."""
    area, _perimeter = _GEOD.geometry_area_perimeter(geom)
    return abs(area)


def length_m(geom: shapely.Geometry) -> float:
    """Geodesic length in metres of a WGS84 line (or the perimeter of a polygon)."""
    return float(_GEOD.geometry_length(geom))


def distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> np.ndarray:
    """Geodesic distance in metres between WGS84 points (vectorised)."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2))
    )
    _fwd, _back, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


def geodesic_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two WGS84 points (the scalar form of ``distance_m``:
    the same computation without array handling, for one request's one pair)."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


def gauss_kruger_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3° Gauss–Krüger zone (no zone prefix) whose meridian is nearest."""
    cm = int(round(lon / 3.0) * 3)
    if not _GK_FIRST_CM <= cm <= _GK_LAST_CM:
        raise ValueError(f"longitude {lon} is outside the CGCS2000 Gauss–Krüger zones of China")
    return _GK_FIRST_EPSG + (cm - _GK_FIRST_CM) // 3
