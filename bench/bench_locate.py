"""Bulk exact locate on the full Rencheng demo, side by side with the obvious alternatives:
shapely STRtree bulk query, geopandas sjoin, and a PostGIS join. Points are uniform inside the
district. All four give the same answers (checked on a sample here; the test suite checks it
exhaustively against PostGIS).
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import create_engine, text

from bench.runner import Figure, median_seconds
from gridmap.settings import get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.locating.locators import LocatorRegistry

N = 10_000_000
N_STRTREE = 1_000_000
N_SJOIN = 1_000_000
N_POSTGIS = 200_000


def _points_in(district: shapely.Geometry, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = district.bounds
    xs, ys = [], []
    got = 0
    while got < n:
        x = rng.uniform(x0, x1, n)
        y = rng.uniform(y0, y1, n)
        keep = shapely.contains_xy(district, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def run() -> list[Figure]:
    from bench.scratch import scratch_url

    engine = create_engine(scratch_url())
    city = generate(get_settings().boundaries_dir / "370811.geojson", scale=1.0)
    assert write_validated(engine, city).ok
    registry = LocatorRegistry(engine)
    started = time.perf_counter()
    locator = registry.active()  # includes reading the grids from PostGIS
    first_build = time.perf_counter() - started
    build = median_seconds(registry.refresh, repeat=3, warmup=0)
    index = locator.index
    district = city.layers["areas"].query("level == 'district'").geometry.iloc[0]
    lon, lat = _points_in(district, N, np.random.default_rng(3))
    index.locate(lon[:1000], lat[:1000])  # compiled already; make sure
    t_mem = median_seconds(lambda: index.locate(lon, lat), repeat=5)

    tree = shapely.STRtree(list(index.geoms))
    pts = shapely.points(lon[:N_STRTREE], lat[:N_STRTREE])
    t_tree = median_seconds(lambda: tree.query(pts, predicate="covered_by"), repeat=3)

    grids = gpd.GeoDataFrame({"code": index.codes.astype(str)}, geometry=list(index.geoms),
                             crs="EPSG:4326")
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon[:N_SJOIN], lat[:N_SJOIN]),
                             crs="EPSG:4326")
    t_sjoin = median_seconds(lambda: gpd.sjoin(frame, grids, predicate="covered_by"), repeat=3)

    with engine.begin() as conn:  # the points as a table, as a PostGIS user would have them
        conn.execute(text("""
            CREATE UNLOGGED TABLE bench_points AS
            SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) AS pt
            FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, i)
        """), {"xs": lon[:N_POSTGIS].tolist(), "ys": lat[:N_POSTGIS].tolist()})

    def postgis():
        with engine.connect() as conn:
            conn.execute(text("""
                SELECT DISTINCT ON (p.i) p.i, a.code FROM bench_points p
                LEFT JOIN areas a ON a.generation_id = :g AND a.level = 'grid'
                                 AND ST_Covers(a.geom, p.pt)
                ORDER BY p.i, a.code
            """), {"g": locator.generation["id"]}).all()
    t_pg = median_seconds(postgis, repeat=3, warmup=1)
    engine.dispose()

    rate = N / t_mem
    tree_rate, sjoin_rate, pg_rate = N_STRTREE / t_tree, N_SJOIN / t_sjoin, N_POSTGIS / t_pg
    return [
        Figure("locator build (full demo)", "from PostGIS, first (JIT cache warm)", first_build, "s"),
        Figure("locator build (full demo)", "rebuild (median of 3)", build, "s", "budget 5 s"),
        Figure("bulk locate", "gridmap GridIndex", rate / 1e6, "M points/s", f"{N:,} points"),
        Figure("bulk locate", "shapely STRtree covered_by", tree_rate / 1e6, "M points/s",
               f"{N_STRTREE:,} points"),
        Figure("bulk locate", "geopandas sjoin", sjoin_rate / 1e6, "M points/s", f"{N_SJOIN:,} points"),
        Figure("bulk locate", "PostGIS join (ST_Covers)", pg_rate / 1e6, "M points/s",
               f"{N_POSTGIS:,} points"),
        Figure("bulk locate", "ratio to STRtree", rate / tree_rate, "×"),
        Figure("bulk locate", "ratio to sjoin", rate / sjoin_rate, "×"),
        Figure("bulk locate", "ratio to PostGIS", rate / pg_rate, "×"),
        Figure("bulk locate", "index leaves", index.leaves, "",
               f"{index.nbytes / 2**20:.1f} MiB of arrays; points there take the exact test"),
    ]
