"""Bulk work on Dask (layers/locating/distributed.py) beside the single-process paths, on the full
demo: what the user runs, end to end.

- ``gridmap locate register.csv --out`` (1,162,189 rows) without and with ``--dask local:2``
  (a LocalCluster of 2 worker processes: its start is part of the command), and the located
  blocks on a warm cluster alone;
- re-gridding every building against a generation (``gridmap register regrid``'s work):
  dask-geopandas' partitioned ``sjoin`` on the warm cluster, geopandas' ``sjoin`` in one process,
  PostGIS (one ``ST_Covers`` join, lowest code), and gridmap's own index.

This machine has 2 cores, so Dask's workers share them with the client: the figures show what
the distributed path costs here (serialising blocks to and from workers), not what more
machines give; the same code runs against a scheduler address.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.runner import Figure, median_seconds
from gridmap.settings import get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated

ROWS = 1_162_189
_median_of_3 = functools.partial(median_seconds, repeat=3, warmup=0)


def run() -> list[Figure]:
    import geopandas as gpd

    from bench.scratch import register_points, scratch_url
    from layers.locating import distributed
    from layers.locating.locators import for_points

    url = scratch_url()
    engine = create_engine(url)
    city = generate(get_settings().boundaries_dir / "370811.geojson")
    assert write_validated(engine, city).ok
    with engine.connect() as conn:
        generation = conn.execute(text("SELECT id FROM generations WHERE status = 'active'")).scalar()
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-dask-"))
    source = tmp / "register_points.csv"
    register_points(engine, ROWS, source)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    gridmap = str(Path(sys.executable).with_name("gridmap"))
    figures = []

    def cli(*extra: str) -> None:
        subprocess.run([gridmap, "locate", str(source), "--out", str(tmp / "out.csv"), *extra],
                       env=env, check=True, capture_output=True)

    cli()  # compiles the kernels and saves the locator snapshot
    single = _median_of_3(cli)
    single_bytes = (tmp / "out.csv").read_bytes()
    on_dask = _median_of_3(lambda: cli("--dask", "local:2"))
    same = (tmp / "out.csv").read_bytes() == single_bytes
    note = f"{ROWS:,} rows, median of 3, whole command"
    figures += [
        Figure("bulk locate on Dask", "`gridmap locate` (one process)", single, "s", note),
        Figure("bulk locate on Dask", "`gridmap locate --dask local:2`", on_dask, "s",
               note + "; includes starting the 2-worker cluster; output identical: "
                      + ("yes" if same else "NO")),
    ]

    client = distributed.client_for("local:2")
    try:
        locator = for_points(engine)
        b"".join(distributed.locate_csv(client, str(source), locator))  # warm the workers
        warm = _median_of_3(lambda: b"".join(distributed.locate_csv(client, str(source), locator)))
        figures.append(Figure("bulk locate on Dask", "blocks located on a warm cluster", warm,
                              "s", f"{ROWS / warm:,.0f} rows/s, 32 MiB blocks"))

        with engine.connect() as conn:
            buildings = gpd.read_postgis(text(
                "SELECT id, ST_PointOnSurface(geom) AS geom FROM buildings ORDER BY id"), conn,
                geom_col="geom")
            grids = gpd.read_postgis(text("SELECT code, geom FROM areas WHERE level = 'grid' "
                                          "AND generation_id = :g"), conn, geom_col="geom",
                                     params={"g": generation}).rename_geometry("geometry")
        frame = buildings.assign(lon=buildings.geometry.x, lat=buildings.geometry.y)
        n = len(frame)
        dask_s = _median_of_3(lambda: distributed.regrid_buildings(client, frame, grids))
        dask_codes = distributed.regrid_buildings(client, frame, grids)["grid_code"].to_numpy()
    finally:
        client.close()

    def geopandas_join():
        joined = gpd.sjoin(buildings, grids, how="left", predicate="intersects")
        return joined.groupby("id")["code"].min()

    def postgis_join():
        with engine.connect() as conn:
            return conn.execute(text("""
                SELECT DISTINCT ON (b.id) b.id, g.code FROM buildings b
                JOIN areas g ON g.generation_id = :g AND g.level = 'grid'
                 AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
                ORDER BY b.id, g.code"""), {"g": generation}).all()

    def own_index():
        return locator.index.locate(frame["lon"].to_numpy(), frame["lat"].to_numpy())

    gpd_s, pg_s, own_s = (_median_of_3(f) for f in (geopandas_join, postgis_join, own_index))
    postgis = dict(postgis_join())
    agree = sum(postgis.get(i) == c for i, c in zip(frame["id"], dask_codes, strict=True))
    engine.dispose()
    note = f"{n:,} buildings × {len(grids):,} grids, median of 3"
    figures += [
        Figure("re-grid the register", "dask-geopandas sjoin, 2 workers (warm)", dask_s, "s",
               note + f"; agrees with PostGIS on {agree:,} of {n:,}"),
        Figure("re-grid the register", "geopandas sjoin, one process", gpd_s, "s", note),
        Figure("re-grid the register", "PostGIS ST_Covers join", pg_s, "s", note),
        Figure("re-grid the register", "gridmap's index (one process)", own_s, "s", note),
    ]
    return figures
