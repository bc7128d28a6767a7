"""The bulk path end to end, on a register-sized file: ``gridmap locate`` on a CSV of 1,162,189
points (one per resident, around their building) located and enriched with names and workers
(target ≤ 2 s, ≥ 2x the geopandas pipeline), beside a plain geopandas pipeline that does less
(read CSV, ``sjoin`` with the grids, write CSV: no names, no workers) — and the same on a file
whose points are uniform over the grids' bounding box (44 % in no grid: they took a slow path
once, 8.4–10.5 s) — and
``POST /v1/locate/batch`` with CSV bodies of 200,000 rows (target ≥ 500,000 rows/s). Peak RSS
of each process is reported: the CLI streams in chunks."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine

from bench.runner import Figure
from gridmap.settings import get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated

ROWS = 1_162_189
GEOPANDAS = """
import sys, time, geopandas as gpd, pandas as pd
from sqlalchemy import create_engine
started = time.perf_counter()
grids = gpd.read_postgis("SELECT code, geom FROM areas WHERE level = 'grid' AND generation_id = "
                         "(SELECT id FROM generations WHERE status = 'active')",
                         create_engine(sys.argv[1]), geom_col="geom")
points = pd.read_csv(sys.argv[2])
frame = gpd.GeoDataFrame(points, geometry=gpd.points_from_xy(points.lon, points.lat), crs=4326)
joined = gpd.sjoin(frame, grids, how="left", predicate="within")
joined.drop(columns=["geometry", "index_right"]).to_csv(sys.argv[3], index=False)
print(time.perf_counter() - started)
"""


def _geopandas(url: str, source: Path, out: Path) -> tuple[float, float]:
    """The geopandas pipeline's (inner, whole-process) seconds, medians of 3: inner is what its
    script times after its imports; whole is the process, start-up and imports included — what
    `gridmap locate`'s own figure includes."""
    inner, whole = [], []
    for _ in range(3):
        started = time.perf_counter()
        answer = subprocess.run([sys.executable, "-c", GEOPANDAS, url, str(source), str(out)],
                                check=True, capture_output=True, text=True)
        whole.append(time.perf_counter() - started)
        inner.append(float(answer.stdout.strip().splitlines()[-1]))
    return sorted(inner)[1], sorted(whole)[1]


def _child_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run() -> list[Figure]:
    from bench.scratch import register_points, scratch_url, served

    url = scratch_url()
    engine = create_engine(url)
    city = generate(get_settings().boundaries_dir / "370811.geojson")
    assert write_validated(engine, city).ok
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-bulk-"))
    source = tmp / "register_points.csv"
    lon, lat = register_points(engine, ROWS, source)
    engine.dispose()
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    gridmap = str(Path(sys.executable).with_name("gridmap"))
    figures = []
    runs = []
    for _ in range(6):  # the first run also compiles the kernels and saves the locator snapshot
        started = time.perf_counter()
        subprocess.run([gridmap, "locate", str(source), "--out", str(tmp / "out.csv")], env=env,
                       check=True, capture_output=True)
        runs.append(time.perf_counter() - started)
    rows_out = sum(1 for _ in (tmp / "out.csv").open()) - 1
    assert rows_out == ROWS, rows_out
    cli = sorted(runs[1:])[2]
    figures.append(Figure("bulk locate, 1,162,189 rows", "`gridmap locate file.csv --out`", cli,
                          "s", f"median of 5 after a first run ({runs[0]:.1f} s); runs "
                               f"{', '.join(f'{r:.2f}' for r in runs[1:])}; whole command incl. "
                               f"start-up; peak RSS {_child_peak_mib():,.0f} MiB (largest child "
                               f"so far)"))
    gpd_inner, gpd_whole = _geopandas(url, source, tmp / "gpd.csv")
    figures.append(Figure("bulk locate, 1,162,189 rows", "geopandas: read_csv + sjoin + to_csv",
                          gpd_inner, "s", f"without interpreter start-up and imports; CLI is "
                                          f"{gpd_inner / cli:.1f}x faster (whole process "
                                          f"{gpd_whole:.2f} s: {gpd_whole / cli:.1f}x)"))

    # the same number of points uniform over the grids' bounding box: ~44 % in no grid
    x0, y0, x1, y1 = city.layers["areas"].query("level == 'grid'").total_bounds
    rng = np.random.default_rng(44)
    spread = tmp / "bbox_points.csv"
    with spread.open("w") as f:
        f.write("id,lon,lat\n")
        f.writelines(f"B{i},{x:.7f},{y:.7f}\n" for i, (x, y) in enumerate(zip(
            rng.uniform(x0, x1, ROWS), rng.uniform(y0, y1, ROWS), strict=True)))
    wide = []
    for _ in range(4):
        started = time.perf_counter()
        subprocess.run([gridmap, "locate", str(spread), "--out", str(tmp / "out2.csv")], env=env,
                       check=True, capture_output=True)
        wide.append(time.perf_counter() - started)
    with (tmp / "out2.csv").open() as f:
        outside = sum(1 for line in f if line.rstrip().endswith("not in any grid")) / ROWS
    gpd_wide, gpd_wide_whole = _geopandas(url, spread, tmp / "gpd2.csv")
    cli_wide = sorted(wide[1:])[1]
    figures.append(Figure("bulk locate, 1,162,189 rows", f"{outside:.0%} outside every grid: "
                          "`gridmap locate`", cli_wide, "s",
                          f"median of 3 after a first run; geopandas {gpd_wide:.2f} s on the same "
                          f"file without start-up and imports, CLI {gpd_wide / cli_wide:.1f}x "
                          f"faster (whole process {gpd_wide_whole:.2f} s: "
                          f"{gpd_wide_whole / cli_wide:.1f}x)"))

    with served({**env, "GRIDMAP_WARM_MAPS": "0"}, 18790) as base:
        body = ("id,lon,lat\n" + "\n".join(
            f"P{i},{x:.7f},{y:.7f}" for i, (x, y) in enumerate(zip(lon[:200_000], lat[:200_000],
                                                                    strict=True))) + "\n").encode()
        times = []
        for _ in range(5):
            request = urllib.request.Request(base + "/v1/locate/batch", data=body,
                                             headers={"Content-Type": "text/csv"})
            started = time.perf_counter()
            with urllib.request.urlopen(request) as answer:
                n = answer.read().count(b"\n") - 1
            times.append(time.perf_counter() - started)
        best = sorted(times)[len(times) // 2]
        figures.append(Figure("POST /v1/locate/batch (CSV)", "200,000 rows per request",
                              n / best, "rows/s", f"median of 5; {best:.2f} s per request"))
    return figures
