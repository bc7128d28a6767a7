"""Vector tiles of the buildings layer at z12–z16 over HTTP (`/tiles/buildings/{z}/{x}/{y}.pbf`,
2 uvicorn workers, the full demo city), beside the same tile from a plain ``ST_AsMVT`` query per
request straight to PostGIS (no HTTP, no access check): p50 and p99 per zoom over the tiles that
cover the urban centre (every tile once, twice over, cold then warm database cache)."""

from __future__ import annotations

import math
import os
import statistics
import time
import urllib.request

import psycopg
from sqlalchemy import create_engine, make_url

from bench.runner import Figure
from gridmap.settings import get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated

CENTRE = (116.5874, 35.4147)  # 任城区, the urban core
PLAIN = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS b3857,
                       ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.02), 4326) AS b4326),
features AS (
    SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), bounds.b3857, 4096, 64, true) AS geom,
           code, name, address, households, floors
    FROM buildings t, bounds WHERE t.geom && bounds.b4326)
SELECT ST_AsMVT(features, 'buildings', 4096, 'geom') FROM features
"""


def _tiles(z: int, span: int) -> list[tuple[int, int, int]]:
    """The ``span`` × ``span`` tiles of zoom ``z`` around the centre."""
    n = 2 ** z
    lon, lat = CENTRE
    cx = int((lon + 180) / 360 * n)
    cy = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    half = span // 2
    return [(z, x, y) for x in range(cx - half, cx - half + span)
            for y in range(cy - half, cy - half + span)]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run() -> list[Figure]:
    from bench.scratch import scratch_url, served

    url = scratch_url()
    engine = create_engine(url)
    assert write_validated(engine, generate(get_settings().boundaries_dir / "370811.geojson")).ok
    engine.dispose()
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "0",
           "GRIDMAP_ACCESS_LOG": "0"}
    figures = []
    with served(env, 19660) as base, psycopg.connect(plain) as conn:
        for z in range(10, 17):
            tiles = _tiles(z, 4 if z < 14 else 6)
            http, sql, sizes = [], [], []
            for _round in range(2):
                for zz, x, y in tiles:
                    t0 = time.perf_counter()
                    with urllib.request.urlopen(f"{base}/tiles/buildings/{zz}/{x}/{y}.pbf") as r:
                        sizes.append(len(r.read()))
                    http.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    conn.execute(PLAIN, {"z": zz, "x": x, "y": y}).fetchone()
                    sql.append(time.perf_counter() - t0)
            figures.append(Figure(
                f"buildings tiles z{z}", f"gridmap HTTP ({len(tiles)} tiles × 2)",
                statistics.median(http) * 1000, "ms p50",
                f"p99 {_p(http, 0.99):.1f} ms; plain ST_AsMVT per request p50 "
                f"{statistics.median(sql) * 1000:.1f} ms, p99 {_p(sql, 0.99):.1f} ms; tiles "
                f"{statistics.median(sizes) / 1024:.1f} KiB median, {max(sizes) / 1024:.1f} KiB "
                f"largest"))
    return figures
