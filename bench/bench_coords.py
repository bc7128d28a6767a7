"""GCJ-02 → WGS84 exact inverse: vectorised numpy vs the usual per-point Python loop.

The per-point loop is what most Chinese-coordinate libraries do (and what a naive port of ours
would be); both run the same iteration to the same 1e-11° tolerance, side by side.
"""

from __future__ import annotations

import math

import numpy as np

from bench.runner import Figure, median_seconds
from gis.chinese_offsets import gcj02_to_wgs84

N_VECTOR = 1_000_000
N_LOOP = 100_000


def _scalar_forward(lon: float, lat: float) -> tuple[float, float]:
    """The textbook scalar GCJ-02 forward (as in coordtransform), pure ``math``."""
    a, ee, pi = 6378245.0, 0.00669342162296594323, math.pi
    x, y = lon - 105.0, lat - 35.0
    s = math.sqrt(abs(x))
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s
    d_lat += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * pi) + 320 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s
    d_lon += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lon += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1 - ee * math.sin(rad) ** 2
    sq = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((a * (1 - ee)) / (magic * sq) * pi)
    d_lon = (d_lon * 180.0) / (a / sq * math.cos(rad) * pi)
    return lon + d_lon, lat + d_lat


def _scalar_inverse(lon: float, lat: float) -> tuple[float, float]:
    wx, wy = lon, lat
    for _ in range(30):
        fx, fy = _scalar_forward(wx, wy)
        ex, ey = fx - lon, fy - lat
        wx, wy = wx - ex, wy - ey
        if math.fabs(ex) < 1e-11 and math.fabs(ey) < 1e-11:
            break
    return wx, wy


def run() -> list[Figure]:
    rng = np.random.default_rng(7)
    lon = rng.uniform(116.4, 116.8, N_VECTOR)
    lat = rng.uniform(35.1, 35.6, N_VECTOR)
    t_vec = median_seconds(lambda: gcj02_to_wgs84(lon, lat), repeat=5)
    pts = list(zip(lon[:N_LOOP].tolist(), lat[:N_LOOP].tolist(), strict=True))
    check = np.array([_scalar_inverse(x, y) for x, y in pts[:100]])
    assert np.allclose(check, np.column_stack(gcj02_to_wgs84(lon[:100], lat[:100])), atol=1e-10)
    t_loop = median_seconds(lambda: [_scalar_inverse(x, y) for x, y in pts], repeat=3)
    vec_rate = N_VECTOR / t_vec
    loop_rate = N_LOOP / t_loop
    return [
        Figure("gcj02_to_wgs84", "gridmap vectorised", vec_rate / 1e6, "M points/s",
               f"median of 5 × {N_VECTOR:,} points"),
        Figure("gcj02_to_wgs84", "per-point loop", loop_rate / 1e6, "M points/s",
               f"median of 3 × {N_LOOP:,} points"),
        Figure("gcj02_to_wgs84", "ratio", vec_rate / loop_rate, "×", "vectorised / loop"),
    ]
