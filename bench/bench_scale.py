"""Rencheng and the whole city of Jining side by side (issue 20): the same demo, once inside
Rencheng's boundary and once inside each of Jining's 11 real county polygons, as a user meets it.

A whole-city load takes minutes of CPU, so this benchmark measures databases that are already
loaded rather than loading them itself: ``GRIDMAP_BENCH_RENCHENG_URL`` (``gridmap demo load``) and
``GRIDMAP_BENCH_CITY_URL`` (``gridmap demo load --boundary 370800``); the load times are those
commands' own (docs/benchmarks.md). For each database:

- the rows: grids, their vertices, buildings, cases;
- the locator as an API process builds it (grids, workers, rooms, the address gazetteer) and the
  index alone; the index's arrays, the process's memory before and after (RSS), and the
  snapshot ``gridmap locate`` keeps on disk;
- bulk locate throughput: 2 M points uniform over the boundaries' extent (many in no grid) and
  2 M points inside grids;
- statistics: the case statistics by grid of Rencheng's scope (what a Rencheng user asks, on a
  table of the whole city's cases) and of the whole database, and buildings per grid in SQL;
- planning: one community's validation (the urban community with the most households in
  Rencheng), median of five;
- z14 buildings tiles over HTTP: the same 36 tiles of Rencheng's core in both, p50.

Ratios are city ÷ Rencheng, measured in the same run (the issue's goal: tile p50, statistics and a
community validation no worse than 2×).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.bench_tiles import _tiles
from bench.runner import Figure, median_seconds
from gridmap.settings import get_settings
from layers import clock
from layers.access.audit import cli_principal
from layers.cases.statistics import case_statistics
from layers.locating import snapshot
from layers.locating.locators import LocatorRegistry, for_points
from layers.planning import plans, validation
from layers.planning.state import load as load_plan
from layers.storage.db import session_scope

RENCHENG = "370811"
POINTS = 2_000_000
PORT = int(os.environ.get("GRIDMAP_BENCH_PORT", "19870"))
GRID_STATS = """
SELECT a.code, count(b.id), sum(b.households)
FROM areas a JOIN buildings b ON b.geom && a.geom AND ST_Intersects(b.geom, a.geom)
WHERE a.level = 'grid' AND a.generation_id = (SELECT id FROM generations WHERE status = 'active')
GROUP BY a.code
"""
COMMUNITY = """
SELECT c.code FROM areas c JOIN buildings b ON ST_Covers(c.geom, ST_PointOnSurface(b.geom))
WHERE c.level = 'community' AND c.code LIKE :scope || '%' AND c.name NOT LIKE '%村'
  AND c.generation_id = (SELECT id FROM generations WHERE status = 'active')
GROUP BY c.code ORDER BY sum(b.households) DESC LIMIT 1
"""


def _rss_mib() -> float:
    """This process's resident memory now (not its peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _measure(url: str, key: str | None = None) -> dict:
    engine = create_engine(url)
    out: dict = {}
    with engine.connect() as conn:
        out["grids"], out["vertices"] = conn.execute(text("""
            SELECT count(*), sum(ST_NPoints(geom)) FROM areas WHERE level = 'grid'
              AND generation_id = (SELECT id FROM generations WHERE status = 'active')""")).one()
        out["buildings"] = conn.execute(text("SELECT count(*) FROM buildings")).scalar()
        out["cases"] = conn.execute(text("SELECT count(*) FROM cases")).scalar()
    # the locator as an API process builds it, then the index alone (what `gridmap locate` uses)
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    locator = LocatorRegistry(engine).active()
    out["build"] = time.perf_counter() - t0
    out["rss"] = _rss_mib() - rss0
    out["build_points"] = median_seconds(lambda: for_points(engine), repeat=3)
    index = locator.index
    out["index_mib"] = index.nbytes / 2**20
    with tempfile.TemporaryDirectory() as tmp:
        snapshot.save(Path(tmp), "bench", for_points(engine))
        out["snapshot_mib"] = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
    # bulk throughput: uniform over the extent, and inside grids
    x0, y0, x1, y1 = shapely.total_bounds(np.asarray(index.geoms, dtype=object))
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(x0, x1, POINTS), rng.uniform(y0, y1, POINTS)
    index.locate(lon[:1000], lat[:1000])
    t0 = time.perf_counter()
    found = index.locate(lon, lat)
    out["rate_uniform"] = POINTS / (time.perf_counter() - t0)
    out["outside"] = float((found.grid < 0).mean())
    inside = found.grid >= 0
    lon_in, lat_in = np.resize(lon[inside], POINTS), np.resize(lat[inside], POINTS)
    t0 = time.perf_counter()
    index.locate(lon_in, lat_in)
    out["rate_inside"] = POINTS / (time.perf_counter() - t0)
    del locator, index
    # statistics
    now = clock.now()
    with Session(engine) as session:
        out["stats_scope"] = median_seconds(
            lambda: case_statistics(session, "grid", now=now, scope=RENCHENG), repeat=3)
        out["stats_all"] = median_seconds(
            lambda: case_statistics(session, "grid", now=now), repeat=3)
    with engine.connect() as conn:
        out["grid_sql"] = median_seconds(lambda: conn.execute(text(GRID_STATS)).all(), repeat=3)
        community = conn.execute(text(COMMUNITY), {"scope": RENCHENG}).scalar()
    # one community's validation, as the plan page asks it
    settings = get_settings()
    with session_scope(engine) as session:
        plan = plans.create(session, name="bench-scale", area_code=RENCHENG, by=cli_principal())
        session.flush()
        t0 = time.perf_counter()
        state = load_plan(session, plan)
        out["plan_load"] = time.perf_counter() - t0
        out["validation"] = median_seconds(
            lambda: validation.validate(state, settings, {community}), repeat=5)
        out["community"] = community
        session.rollback()
    engine.dispose()
    out["tile"] = _tile_p50(url, key)
    return out


def _tile_p50(url: str, key: str | None = None) -> float:
    from bench.scratch import served

    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "0",
           "GRIDMAP_ACCESS_LOG": "0", "GRIDMAP_ESCALATION_INTERVAL_S": "0"}
    if key:  # each database's register was encrypted with its own key
        env["GRIDMAP_REGISTER_KEY"] = key
    times = []
    with served(env, PORT) as base:
        for z, x, y in _tiles(14, 6):  # once to warm the caches of PostgreSQL
            urllib.request.urlopen(f"{base}/tiles/buildings/{z}/{x}/{y}.pbf").read()
        for _ in range(3):
            for z, x, y in _tiles(14, 6):
                t0 = time.perf_counter()
                urllib.request.urlopen(f"{base}/tiles/buildings/{z}/{x}/{y}.pbf").read()
                times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run() -> list[Figure]:
    from gis.locator import GridIndex

    # the kernels compiled (or read from numba's cache) before any build is timed
    GridIndex(["a"], [shapely.box(0, 0, 1, 1)]).locate(np.array([0.5]), np.array([0.5]))
    urls = {name: os.environ.get(f"GRIDMAP_BENCH_{name.upper()}_URL")
            for name in ("rencheng", "city")}
    if not all(urls.values()):
        print("bench_scale measures two loaded databases: set GRIDMAP_BENCH_RENCHENG_URL "
              "(gridmap demo load) and GRIDMAP_BENCH_CITY_URL (gridmap demo load --boundary "
              "370800); skipping")
        return []
    started = dt.datetime.now(dt.UTC)
    # GRIDMAP_BENCH_RENCHENG_KEY / _CITY_KEY: the register key of each database, when they differ
    m = {name: _measure(url, os.environ.get(f"GRIDMAP_BENCH_{name.upper()}_KEY"))
         for name, url in urls.items()}
    r, c = m["rencheng"], m["city"]
    figures = []
    for name, v in m.items():
        label = "Rencheng" if name == "rencheng" else "Jining (11 counties)"
        figures += [
            Figure(label, "rows", v["grids"], "grids",
                   f"{v['vertices']:,} grid vertices, {v['buildings']:,} buildings, "
                   f"{v['cases']:,} cases"),
            Figure(label, "locator build (API: grids, workers, gazetteer)", v["build"], "s",
                   f"process memory +{v['rss']:.0f} MiB"),
            Figure(label, "index build (points only)", v["build_points"], "s",
                   f"arrays {v['index_mib']:.1f} MiB, snapshot {v['snapshot_mib']:.1f} MiB"),
            Figure(label, "bulk locate, uniform over the extent", v["rate_uniform"] / 1e6,
                   "M points/s", f"{v['outside']:.0%} in no grid"),
            Figure(label, "bulk locate, inside grids", v["rate_inside"] / 1e6, "M points/s"),
            Figure(label, "case statistics by grid, Rencheng's scope", v["stats_scope"] * 1000,
                   "ms", f"whole database {v['stats_all'] * 1000:.0f} ms"),
            Figure(label, "buildings per grid (SQL, every grid)", v["grid_sql"] * 1000, "ms"),
            Figure(label, "one community's validation", v["validation"] * 1000, "ms",
                   f"{v['community']}; plan of Rencheng read in {v['plan_load']:.2f} s"),
            Figure(label, "z14 buildings tile p50 (HTTP)", v["tile"] * 1000, "ms",
                   "36 tiles of Rencheng's core, 3 rounds"),
        ]
    for what, key in (("z14 tile p50", "tile"), ("case statistics, Rencheng's scope",
                                                 "stats_scope"),
                      ("community validation", "validation"), ("locator build", "build")):
        figures.append(Figure("city ÷ Rencheng", what, c[key] / r[key], "×",
                              f"same run, from {started:%H:%M} UTC; goal ≤ 2× (tile, "
                              "statistics, validation)"))
    return figures
