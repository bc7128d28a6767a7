"""Demo city at full scale: generate + validate + write (budget ≤ 60 s), beside the obvious
alternative for the write, geopandas ``to_postgis`` of the same frames (no validation, no upsert).
"""

from __future__ import annotations

import statistics
import time

from sqlalchemy import create_engine, text

from bench.runner import Figure
from gridmap.settings import get_settings
from layers.demo.case_history import load as load_history
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.interchange.validate import validate

REPEAT = 3
TABLES = ("case_events, cases, worker_assignments, workers, buildings, roads, alleys, cameras, sites, "
          "areas, generations")


def run() -> list[Figure]:
    from bench.scratch import scratch_url

    url = scratch_url()
    engine = create_engine(url)
    boundary = get_settings().boundaries_dir / "370811.geojson"
    gen_t, val_t, total_t, gpd_t = [], [], [], []
    for _ in range(REPEAT):
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))
        start = time.perf_counter()
        city = generate(boundary, scale=1.0)
        gen_t.append(time.perf_counter() - start)
        v0 = time.perf_counter()
        validate(city)
        val_t.append(time.perf_counter() - v0)
        outcome = write_validated(engine, city)  # validates again, then writes
        assert outcome.ok
        total_t.append(time.perf_counter() - start)
        g0 = time.perf_counter()
        for name, frame in city.layers.items():
            frame.to_postgis(f"plain_{name}", engine, if_exists="replace", index=False)
        city.workers.to_sql("plain_workers", engine, if_exists="replace", index=False)
        gpd_t.append(time.perf_counter() - g0)
    h0 = time.perf_counter()
    n_cases = load_history(engine)
    history = time.perf_counter() - h0
    engine.dispose()
    total, plain = statistics.median(total_t), statistics.median(gpd_t)
    write_only = total - statistics.median(gen_t) - 2 * statistics.median(val_t)
    n = sum(city.counts().values())
    return [
        Figure("demo load (full scale)", "generate", statistics.median(gen_t), "s", f"median of {REPEAT}"),
        Figure("demo load (full scale)", "validate", statistics.median(val_t), "s", "topology included"),
        Figure("demo load (full scale)", "generate + validate + write", total, "s",
               f"{n:,} features; budget 60 s"),
        Figure("demo write", "gridmap COPY + upsert (validated)", max(write_only, 1e-9), "s",
               "idempotent, atomic"),
        Figure("demo write", "geopandas to_postgis (plain tables)", plain, "s", "no upsert, no checks"),
        Figure("demo write", "ratio", plain / max(write_only, 1e-9), "×", "to_postgis / gridmap"),
        Figure("demo load (full scale)", "case history", history, "s",
               f"{n_cases:,} cases + their events, once"),
        Figure("demo load (full scale)", "total with case history", total + history, "s",
               "budget 60 s"),
    ]
