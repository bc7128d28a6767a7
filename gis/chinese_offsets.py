"""GCJ-02 ("Mars coordinates") and BD-09, the obfuscated datums of Chinese web maps.

Neither is an EPSG system: GCJ-02 is WGS84 plus a deliberately non-linear offset of a few hundred
metres (Amap, Tencent, WeChat), and BD-09 is GCJ-02 with a further rotation (Baidu). The forward
formulas are public and deterministic; the inverses have no closed form, so we solve them by
fixed-point iteration until the forward image of our answer matches the input to 1e-11 degrees
(about a micrometre), far inside the 1 cm contract.

By convention the offset is applied only inside a rough bounding box of China; points outside it
pass through unchanged in both directions.

All functions are vectorised over numpy arrays and also accept plain floats.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_K = np.pi * 3000.0 / 180.0

# The conventional "out of China" box used by every GCJ-02 implementation.
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)

_TOLERANCE_DEG = 1e-11
_MAX_ITERATIONS = 30

Floats = NDArray[np.float64]


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the GCJ-02 offset applies (the conventional rectangle, not the border)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    min_lon, min_lat, max_lon, max_lat = CHINA_BOX
    return (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)


def _offset(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_a.astype(float, copy=True), lat_a.astype(float, copy=True)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    d_lon, d_lat = _offset(lon_a[inside], lat_a[inside])
    lon_a[inside] += d_lon
    lat_a[inside] += d_lat
    return lon_a, lat_a


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    x, y = lon_a[inside], lat_a[inside]
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_K)
    lon_a[inside] = z * np.cos(theta) + 0.0065
    lat_a[inside] = z * np.sin(theta) + 0.006
    return lon_a, lat_a


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward, lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Solve forward(w) = target for w by fixed-point iteration w ← w − (forward(w) − target).

    The offsets are smooth and vary by far less than their own size over their own size, so the
    iteration contracts quickly (3–5 steps to 1e-11°). Only points that have not converged are
    iterated again.
    """
    target_lon, target_lat = _as_arrays(lon, lat)
    inside = in_china(target_lon, target_lat)
    t_lon, t_lat = target_lon[inside], target_lat[inside]
    w_lon, w_lat = t_lon.copy(), t_lat.copy()
    active = np.ones(t_lon.shape, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        if not active.any():
            break
        f_lon, f_lat = forward(w_lon[active], w_lat[active])
        e_lon = f_lon - t_lon[active]
        e_lat = f_lat - t_lat[active]
        w_lon[active] -= e_lon
        w_lat[active] -= e_lat
        done = (np.abs(e_lon) < _TOLERANCE_DEG) & (np.abs(e_lat) < _TOLERANCE_DEG)
        idx = np.flatnonzero(active)
        active[idx[done]] = False
    target_lon[inside] = w_lon
    target_lat[inside] = w_lat
    return target_lon, target_lat


def _gcj_forward_unmasked(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Exact inverse of :func:`wgs84_to_gcj02` (≤ 1e-11° residual) inside China."""
    return _invert(_gcj_forward_unmasked, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Exact inverse of :func:`gcj02_to_bd09`; Baidu's published inverse is only approximate."""
    return _invert(gcj02_to_bd09, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
