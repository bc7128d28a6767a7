"""The adaptive locator against the fixed raster it replaced, in one run on the same grids and
points: build time and bulk throughput on the Rencheng demo's grids (generated, not read from
PostGIS: the same polygons either way), for points uniform inside the district and uniform over
the grids' bounding box (44 % in no grid). The old index is gis/locator.py as of commit aeff3da,
read from git at run time (so this benchmark needs the repository's history).

    .venv/bin/python -m bench locator_ab
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from bench.runner import Figure
from gis.locator import GridIndex
from gridmap.settings import PROJECT_ROOT, get_settings
from layers.demo.city import generate

OLD_COMMIT = "aeff3da"
N = 4_000_000
REPEAT = 7


def _old_module():
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:gis/locator.py"], cwd=PROJECT_ROOT,
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="gridmap-ab-")) / "fixed_raster_locator.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("fixed_raster_locator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run() -> list[Figure]:
    old_locator = _old_module()
    city = generate(get_settings().boundaries_dir / "370811.geojson", scale=1.0)
    grids = city.layers["areas"].query("level == 'grid'")
    codes, geoms = list(grids.code), list(grids.geometry)
    old_locator.GridIndex(codes[:3], geoms[:3])
    GridIndex(codes[:3], geoms[:3])  # both compiled before the clock
    builds = {"fixed raster": [], "adaptive": []}
    for _ in range(3):
        t0 = time.perf_counter()
        old = old_locator.GridIndex(codes, geoms)
        builds["fixed raster"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        new = GridIndex(codes, geoms)
        builds["adaptive"].append(time.perf_counter() - t0)
    district = shapely.union_all(geoms)
    x0, y0, x1, y1 = district.bounds
    rng = np.random.default_rng(7)
    x, y = rng.uniform(x0, x1, 2 * N), rng.uniform(y0, y1, 2 * N)
    inside = shapely.contains_xy(district, x, y)
    sets = {"inside the district": (x[inside][:N], y[inside][:N]),
            "over the bounding box": (x[:N], y[:N])}
    figures = [Figure("locator A/B (Rencheng demo grids)", f"build: {name}",
                      statistics.median(times), "s", f"median of 3; {len(codes):,} grids")
               for name, times in builds.items()]
    for label, (xs, ys) in sets.items():
        xs, ys = np.ascontiguousarray(xs), np.ascontiguousarray(ys)
        old.locate(xs[:50_000], ys[:50_000])
        new.locate(xs[:50_000], ys[:50_000])
        rates = {"fixed raster": [], "adaptive": []}
        for _ in range(REPEAT):  # interleaved: the machine's speed drifts
            for name, index in (("fixed raster", old), ("adaptive", new)):
                t0 = time.perf_counter()
                index.locate(xs, ys)
                rates[name].append(len(xs) / (time.perf_counter() - t0) / 1e6)
        a, b = old.locate(xs, ys), new.locate(xs, ys)
        same = bool((a.grid == b.grid).all() and (a.on_boundary == b.on_boundary).all())
        outside = float((b.grid < 0).mean())
        med = {k: statistics.median(v) for k, v in rates.items()}
        figures += [Figure("locator A/B (Rencheng demo grids)", f"{label}: {name}", rate,
                           "M points/s", f"median of {REPEAT}, {N:,} points, {outside:.0%} in "
                                         f"no grid; same answers: {same}")
                    for name, rate in med.items()]
        figures.append(Figure("locator A/B (Rencheng demo grids)", f"{label}: ratio",
                              med["adaptive"] / med["fixed raster"], "×", "adaptive / fixed"))
    return figures
