"""The geocoder on the full demo, loaded into a scratch database and read back as the API reads it:
the gazetteer's build, single queries in process (p50), the messy-address cases of the first
session, and the evaluation of issue 21 (bench/messy_addresses.py: forms the demo's address
writer never makes) scored by the grid of the top answer and confident answers in a wrong grid."""

from __future__ import annotations

import collections
import statistics
import time

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from bench.messy_addresses import SETS, evaluation, score
from bench.messy_addresses import generate as messy
from bench.runner import Figure

TARGETS = {"standard": 99.0, "variants": 99.0, "typos": 0.0, "landmarks": 95.0, "free text": 95.0}


def evaluation_inputs(engine, locator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The parts the evaluation writes its own forms from, each with its true grid (where its
    point lies): urban buildings, named places, villages of one grid."""
    with engine.connect() as conn:
        buildings = pd.read_sql(text("""
            SELECT street, community, road, door_plate, compound, building, building_code,
                   ST_X(geom) AS lon, ST_Y(geom) AS lat
            FROM standard_addresses WHERE kind = 'building' AND compound IS NOT NULL"""), conn)
        places = pd.read_sql(text("""
            SELECT name, aliases, road, door_plate, ST_X(geom) AS lon, ST_Y(geom) AS lat
            FROM standard_addresses WHERE kind = 'place'"""), conn)
    for frame in (buildings, places):
        found = locator.index.locate(frame["lon"].to_numpy(), frame["lat"].to_numpy()).grid
        frame["grid"] = [str(locator.index.codes[g]) if g >= 0 else None for g in found]
    by_parent = collections.Counter(code[:12] for code in map(str, locator.index.codes))
    villages = pd.DataFrame([{"name": a["name"], "grid": f"{a['code']}01"}
                             for a in locator.areas.values() if a["level"] == "community"
                             and a["name"].endswith("村") and by_parent[a["code"]] == 1
                             and f"{a['code']}01" in locator.areas])
    return buildings.dropna(subset=["grid"]), places.dropna(subset=["grid"]), villages


def run(scale: float = 1.0) -> list[Figure]:
    """The full demo city (no register) loaded into the scratch database, then measured."""
    from bench.scratch import scratch_url
    from gridmap.settings import get_settings
    from layers.demo.city import generate
    from layers.interchange.importer import write_validated

    engine = create_engine(scratch_url())
    assert write_validated(engine, generate(get_settings().boundaries_dir / "370811.geojson",
                                            scale=scale)).ok
    return measure(engine)


def measure(engine) -> list[Figure]:
    """The figures, on a database that holds the demo (or any district with its gazetteer)."""
    from layers.locating.locators import LocatorRegistry

    started = time.perf_counter()
    locator = LocatorRegistry(engine).active()
    gz = locator.gazetteer
    assert gz is not None  # built with its addresses
    gz.complete()  # the organisations' names too, as a server indexes them once it answers
    build = time.perf_counter() - started
    buildings, places, villages = evaluation_inputs(engine, locator)
    items = evaluation(buildings, places, villages, n=2_000)
    figures = [Figure("geocode", "locator build with its gazetteer", build, "s",
                      f"{len(gz.entries):,} buildings and places")]
    single = []
    for item in items[::10]:
        if item.set == "free text":
            continue
        t0 = time.perf_counter()
        gz.search(item.query)
        single.append(time.perf_counter() - t0)
    figures.append(Figure("geocode", "single query in process, p50", statistics.median(single) * 1e3,
                          "ms", f"p99 {np.percentile(single, 99) * 1e3:.2f} ms over "
                          f"{len(single)} queries of every set; target p50 ≤ 5 ms"))
    for name, tally in sorted(score(gz, items).items(), key=lambda kv: SETS.index(kv[0])):
        top1 = tally["top1"] / tally["n"] * 100
        figures.append(Figure("geocode evaluation", name, top1, "% top-1 grid",
                              f"{tally['n']:,} queries, {tally['confident']:,} confident, "
                              f"{tally['confident_wrong']} confident in a wrong grid; target "
                              f"≥ {TARGETS[name]:g} % and 0"
                              + (f"; e.g. {tally['wrong_examples'][:2]}"
                                 if tally["wrong_examples"] else "")))
    b = pd.DataFrame([{"code": e.code, "address": e.address, "road": e.parts.road or e.parts.village,
                       "house_number": e.parts.house_number, "compound": e.parts.compound,
                       "building_no": e.parts.building_no} for e in gz.entries
                      if e.kind == "building"])
    queries = messy(b, 10_000)
    t0 = time.perf_counter()
    results = [gz.search(q)[1] for q, _truth, _case in queries]
    rate = len(queries) / (time.perf_counter() - t0)
    right = sum(bool(found) and found[0].entry.code == truth
                for (_q, truth, _c), found in zip(queries, results, strict=True))
    wrong = sum(bool(found) and found[0].confident and found[0].entry.code != truth
                for (_q, truth, _c), found in zip(queries, results, strict=True))
    figures += [Figure("geocode", "first session's 10 messy cases: top-1 building", right / 100, "%",
                       f"10,000 queries, {rate:,.0f}/s in one process; {wrong} confident and "
                       "wrong")]
    return figures
