"""Geocoder on the full demo: throughput (single process) and accuracy on 10,000 messy
addresses with ground truth (every normalisation case, equal shares)."""

from __future__ import annotations

import collections
import time

from bench.messy_addresses import generate as messy
from bench.runner import Figure
from gis.gazetteer import CONFIDENT, Gazetteer
from gridmap.settings import get_settings
from layers.demo.city import generate


def run() -> list[Figure]:
    city = generate(get_settings().boundaries_dir / "370811.geojson", scale=1.0)
    areas = city.layers["areas"]
    started = time.perf_counter()
    gz = Gazetteer.for_district(list(areas[areas.level == "district"].name),
                                [*areas[areas.level == "street"].name, "二十里铺街道"])
    b = city.layers["buildings"]
    for row, p in zip(b.itertuples(), b.geometry.representative_point(), strict=True):
        gz.add(row.code, row.address, row.name, p.x, p.y)
    build = time.perf_counter() - started
    queries = messy(b, 10_000)
    rates, results = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        results = [gz.search(q)[1] for q, _truth, _case in queries]
        rates.append(len(queries) / (time.perf_counter() - t0))
    right, wrong_confident = 0, 0
    misses = collections.Counter()
    for (_q, truth, case), found in zip(queries, results, strict=True):
        if found and found[0][0].code == truth:
            right += 1
        else:
            misses[case] += 1
            wrong_confident += bool(found and found[0][1] >= CONFIDENT)
    return [
        Figure("geocode", "gazetteer build", build, "s", f"{len(gz.entries):,} buildings"),
        Figure("geocode", "throughput (median of 3)", sorted(rates)[1], "addresses/s",
               "single process; target ≥ 2,000"),
        Figure("geocode", "top-1 accuracy", right / len(queries) * 100, "%",
               "10,000 messy addresses; target ≥ 99"),
        Figure("geocode", "wrong answers with high confidence", wrong_confident, "",
               f"score ≥ {CONFIDENT}; target 0"),
        Figure("geocode", "misses by case", sum(misses.values()), "",
               ", ".join(f"{k} {v}" for k, v in misses.most_common())),
    ]
