"""Case statistics on the demo's 168,177-case history: every /v1/stats query (target ≤ 200 ms),
beside the obvious alternative of reading the cases into pandas and grouping there."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.runner import Figure, median_seconds
from gridmap.settings import get_settings
from layers import clock
from layers.cases.statistics import DIMENSIONS, case_statistics
from layers.demo.case_history import load as load_history
from layers.demo.city import generate
from layers.interchange.importer import write_validated


def run() -> list[Figure]:
    from bench.scratch import scratch_url

    engine = create_engine(scratch_url())
    assert write_validated(engine, generate(get_settings().boundaries_dir / "370811.geojson")).ok
    n = load_history(engine)
    now = clock.now()
    figures = []
    with Session(engine) as session:
        for name in DIMENSIONS:
            t = median_seconds(lambda name=name: case_statistics(session, name, now=now), repeat=5)
            figures.append(Figure("stats (SQL)", name, t * 1000, "ms", f"{n:,} cases; target ≤ 200"))
    with engine.connect() as conn:

        def pandas_street():
            frame = pd.read_sql(text("SELECT grid_code, status, created_at, closed_at, deadline "
                                     "FROM cases"), conn)
            frame["street"] = frame.grid_code.str[:9]
            frame["closed"] = frame.status == "closed"
            return frame.groupby("street").closed.mean()
        t_pd = median_seconds(pandas_street, repeat=3)
    engine.dispose()
    street = next(f.value for f in figures if f.variant == "street")
    figures += [Figure("stats by street", "pandas: read all cases + groupby", t_pd * 1000, "ms"),
                Figure("stats by street", "ratio", t_pd * 1000 / street, "×", "pandas / SQL")]
    return figures
