"""Planning on the full demo: validation of one community and of the whole district (targets
≤ 200 ms and ≤ 5 s), an edit answered with its incremental validation, planning units, and a
ReCom suggestion for the largest urban community (≤ 10 s), with the suggestion-vs-today table."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from bench.runner import Figure, median_seconds
from gridmap.settings import get_settings
from layers.access.audit import cli_principal
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.planning import plans, suggest, units, validation
from layers.planning.state import load
from layers.storage.db import session_scope


def run() -> list[Figure]:
    from bench.scratch import scratch_url

    settings = get_settings()
    engine = create_engine(scratch_url())
    assert write_validated(engine, generate(settings.boundaries_dir / "370811.geojson")).ok
    with engine.connect() as conn:  # the urban community with the most households
        community = conn.execute(text("""
            SELECT c.code FROM areas c JOIN buildings b ON ST_Covers(c.geom, ST_PointOnSurface(b.geom))
            WHERE c.level = 'community' AND c.name NOT LIKE '%村' GROUP BY c.code
            ORDER BY sum(b.households) DESC LIMIT 1""")).scalar()
    figures = []
    with session_scope(engine) as session:
        district = plans.create(session, name="bench", area_code="370811", by=cli_principal())
        plan = plans.create(session, name="bench", area_code=community, by=cli_principal())
        session.flush()
        t_load = median_seconds(lambda: load(session, district), repeat=3)
        state = load(session, district)
        n_grids = len(state.grids)
        t_district = median_seconds(lambda: validation.validate(state, settings), repeat=3)
        t_community = median_seconds(lambda: validation.validate(state, settings, {community}),
                                     repeat=5)
        figures += [
            Figure("plan validation", "whole district (in memory)", t_district, "s",
                   f"{n_grids:,} grids; target ≤ 5 s"),
            Figure("plan validation", "reading the district plan from PostGIS", t_load, "s"),
            Figure("plan validation", "one community", t_community * 1000, "ms", "target ≤ 200"),
        ]
        t_api = median_seconds(lambda: plans.validate(session, plan, settings), repeat=5)
        figures.append(Figure("plan validation", "GET …/validation, community plan", t_api * 1000,
                              "ms", "load + validate"))
        started = time.perf_counter()
        painted = units.units(session, plan, community)
        figures.append(Figure("planning units", "first computation, one community",
                              time.perf_counter() - started, "s",
                              f"{len(painted['features'])} units"))
        feature = painted["features"][0]
        target = next(g for g in load(session, plan).grids if g != feature["properties"]["grid"]
                      and g.startswith(community))
        started = time.perf_counter()
        units.assign(session, plan, [feature["id"]], target, by=cli_principal(), settings=settings)
        figures.append(Figure("plan edit", "paint one unit + incremental validation",
                              (time.perf_counter() - started) * 1000, "ms"))
        grids_now = [g for g in load(session, plan).grids.values() if g.community == community]
        started = time.perf_counter()
        answer = suggest.suggest(session, plan, area=community, households_min=300,
                                 households_max=500, grids=None, seconds=8, apply=False,
                                 by=cli_principal(), settings=settings)
        figures.append(Figure("suggestion (ReCom)", f"community {community}",
                              time.perf_counter() - started, "s",
                              f"{answer['grids']} grids (today {len(grids_now)}); target ≤ 10 s"))
        for side in ("current", "suggestion"):
            r = answer[side]
            figures.append(Figure("suggestion vs today", side, r["max_deviation_from_norm"],
                                  "households", f"min {r['households_min']}, max "
                                  f"{r['households_max']}, out of norm {r['grids_out_of_norm']}, "
                                  f"Polsby–Popper {r['mean_polsby_popper']}, units moved "
                                  f"{r['units_moved']}"))
        session.rollback()
    engine.dispose()
    return figures
