"""Cities larger than Rencheng: the demo generator at 1×, 2×, 4× and 8× (Jining is about 7×),
each written into PostGIS and measured as a user meets it — generate + validate + write, the
locator build (index + gazetteer), bulk locate throughput, a grid-statistics query, and a
buildings tile over HTTP. Writes docs/scale.svg (the growth, log-scaled) beside the table."""

from __future__ import annotations

import os
import statistics
import time
import urllib.request
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from bench.bench_tiles import _tiles
from bench.runner import Figure
from gridmap.settings import PROJECT_ROOT, get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.locating.locators import LocatorRegistry

SCALES = (1.0, 2.0, 4.0, 8.0)
GRID_STATS = """
SELECT a.code, count(b.id), sum(b.households)
FROM areas a JOIN buildings b ON b.geom && a.geom AND ST_Intersects(b.geom, a.geom)
WHERE a.level = 'grid' AND a.generation_id = (SELECT id FROM generations WHERE status = 'active')
GROUP BY a.code
"""


def run() -> list[Figure]:
    from bench.scratch import scratch_url, served

    rows = []
    for scale in SCALES:
        url = scratch_url()
        engine = create_engine(url)
        t0 = time.perf_counter()
        city = generate(get_settings().boundaries_dir / "370811.geojson", scale=scale)
        assert write_validated(engine, city).ok
        load = time.perf_counter() - t0
        areas = city.layers["areas"]
        grids = int((areas.level == "grid").sum())
        t0 = time.perf_counter()
        locator = LocatorRegistry(engine).active()
        build = time.perf_counter() - t0
        x0, y0, x1, y1 = city.layers["buildings"].total_bounds
        rng = np.random.default_rng(1)
        lon, lat = rng.uniform(x0, x1, 2_000_000), rng.uniform(y0, y1, 2_000_000)
        locator.index.locate(lon[:1000], lat[:1000])
        t0 = time.perf_counter()
        locator.index.locate(lon, lat)
        rate = len(lon) / (time.perf_counter() - t0)
        with engine.connect() as conn:
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                conn.execute(text(GRID_STATS)).all()
                times.append(time.perf_counter() - t0)
        stats = statistics.median(times)
        env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "0",
               "GRIDMAP_ACCESS_LOG": "0"}
        tile_times = []
        with served(env, 18870) as base:
            for _ in range(2):
                for z, x, y in _tiles(14, 6):
                    t0 = time.perf_counter()
                    urllib.request.urlopen(f"{base}/tiles/buildings/{z}/{x}/{y}.pbf").read()
                    tile_times.append(time.perf_counter() - t0)
        engine.dispose()
        rows.append((scale, grids, len(city.layers["buildings"]), load, build, rate, stats,
                     statistics.median(tile_times)))
    _plot(rows, PROJECT_ROOT / "docs" / "scale.svg")
    return [Figure(f"demo at {scale:g}×", f"{grids:,} grids, {buildings:,} buildings", load, "s",
                   f"locator build {build:.2f} s; bulk locate {rate / 1e6:.0f} M points/s; "
                   f"buildings per grid (SQL) {stats * 1000:.0f} ms; z14 tile p50 "
                   f"{tile * 1000:.1f} ms")
            for scale, grids, buildings, load, build, rate, stats, tile in rows]


def _plot(rows, path: Path) -> None:
    """A small SVG: each measure relative to 1×, against the scale, log-log."""
    import math

    series = {"load + write": 3, "locator build": 4, "grid statistics": 6, "z14 tile": 7,
              "locate time per point": 5}
    colours = ["#1d4ed8", "#16a34a", "#dc2626", "#9333ea", "#ea580c"]
    w, h, pad = 560, 340, 50
    xs = [math.log2(r[0]) for r in rows]

    def px(v: float) -> float:
        return pad + v / max(xs) * (w - 2 * pad)

    def py(v: float) -> float:  # relative 0.25× … 16×, log2
        return h - pad - (math.log2(v) + 2) / 6 * (h - 2 * pad)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="11"><rect width="{w}" height="{h}" fill="white"/>']
    for k in range(-2, 5):
        y = py(2 ** k)
        parts.append(f'<line x1="{pad}" x2="{w - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                     f'<text x="8" y="{y + 4:.1f}">{2 ** k:g}×</text>')
    for r, x in zip(rows, xs, strict=True):
        parts.append(f'<text x="{px(x) - 8:.1f}" y="{h - pad + 18}">{r[0]:g}×</text>')
    for (name, i), colour, n in zip(series.items(), colours, range(len(series)), strict=True):
        base = rows[0][i] if i != 5 else 1 / rows[0][5]
        values = [(r[i] if i != 5 else 1 / r[5]) / base for r in rows]
        points = " ".join(f"{px(x):.1f},{py(max(v, 0.25)):.1f}" for x, v in zip(xs, values, strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
                     f'<text x="{w - pad - 150}" y="{pad + 14 * n}" fill="{colour}">{name}</text>')
    parts.append(f'<text x="{pad}" y="{h - 8}">city size (× Rencheng); each measure relative to 1×'
                 '</text></svg>')
    path.write_text("".join(parts), encoding="utf-8")
