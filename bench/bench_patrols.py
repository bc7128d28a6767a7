"""A district's day of patrols (每日巡查): every responsible worker (1,347) walks ~10 km of their
grid's roads and alleys, a point every 10 m (≈ 1.35 M points, a few GPS spikes), and the day is
processed — cleaned, measured against each grid's roads and alleys, stored — two ways:

- **batch** (the day at once): ``gis.track.clean`` per track, ``patrols.shares_of_day`` for all
  coverages (one query for the grids' lines, vectorised shapely in Gauss–Krüger metres), one
  multi-row INSERT;
- **per request**: ``POST /v1/patrols`` over HTTP for a sample of 100 tracks (each cleaned and
  measured in PostGIS on the ellipsoid), the day extrapolated from the median.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import time
import urllib.request

import numpy as np
import shapely
from sqlalchemy import create_engine, text

from bench.runner import Figure
from gis.track import clean
from gridmap.settings import get_settings
from layers.access import users
from layers.clock import CHINA
from layers.demo.city import generate
from layers.demo.field import gps_noise, walk
from layers.field.patrols import grid_lines, shares_of_day
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope

STEP_M, TARGET_M, REACH_M = 10.0, 10_000.0, 30.0
DAY = dt.date(2026, 11, 23)


def _tracks(session, rng) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    """(worker, grid, lon, lat, t) for every responsible worker: their grid's lines walked in a
    random order, again and again, until ~10 km."""
    workers = session.execute(text("""
        SELECT DISTINCT ON (w.code) w.code, wa.grid_code FROM worker_assignments wa
        JOIN workers w ON w.id = wa.worker_id WHERE wa.role IN ('full_time', 'part_time')
        ORDER BY w.code, wa.grid_code""")).all()
    lines = grid_lines(session)
    out = []
    for worker, grid in workers:
        ls = lines.get(grid)
        if not ls:
            continue
        xy = gps_noise(rng, walk(rng, ls, TARGET_M, STEP_M))
        spikes = rng.choice(len(xy), max(1, len(xy) // 300), replace=False)
        xy[spikes] += 0.003  # ~300 m: a bad fix
        t = (dt.datetime.combine(DAY, dt.time(8, 30), CHINA).timestamp()
             + np.arange(len(xy)) * STEP_M / 1.2)
        out.append((worker, grid, xy[:, 0], xy[:, 1], t))
    return out


def run() -> list[Figure]:
    from bench.scratch import scratch_url, served

    url = scratch_url()
    engine = create_engine(url)
    assert write_validated(engine, generate(get_settings().boundaries_dir / "370811.geojson")).ok
    rng = np.random.default_rng(11)
    with session_scope(engine) as session:
        tracks = _tracks(session, rng)
    points = sum(len(x) for _w, _g, x, _y, _t in tracks)
    km = sum(float(np.hypot(np.diff(x) * 90_700, np.diff(y) * 110_574).sum())
             for _w, _g, x, y, _t in tracks) / 1000

    started = time.perf_counter()
    cleaned = [clean(x, y, t, max_speed_ms=3.0) for _w, _g, x, y, t in tracks]
    t_clean = time.perf_counter() - started
    with session_scope(engine) as session:
        t0 = time.perf_counter()
        shares = shares_of_day(session, [(g, x[c.keep], y[c.keep]) for (_w, g, x, y, _t), c
                                         in zip(tracks, cleaned, strict=True)], REACH_M)
        t_share = time.perf_counter() - t0
        t0 = time.perf_counter()
        session.execute(text("""
            INSERT INTO patrols (key, worker, grid_code, mode, started_at, ended_at, points_in,
                                 points_kept, length_m, inside_s, outside_s, coverage_share, geom)
            VALUES (:key, :worker, :grid, 'walk', to_timestamp(:t0), to_timestamp(:t1), :n, :k,
                    :length, :seconds, 0, :share, ST_GeomFromText(:wkt, 4326))"""), [
            {"key": f"bench-{w}", "worker": w, "grid": g, "t0": float(t[0]), "t1": float(t[-1]),
             "n": len(x), "k": len(c.keep), "length": round(c.length_m, 1),
             "seconds": float(t[-1] - t[0]), "share": s,
             "wkt": shapely.LineString(np.column_stack([x[c.keep], y[c.keep]])).wkt}
            for (w, g, x, y, t), c, s in zip(tracks, cleaned, shares, strict=True)])
        t_insert = time.perf_counter() - t0
    batch = time.perf_counter() - started
    dropped = sum(len(x) - len(c.keep) for (_w, _g, x, _y, _t), c in zip(tracks, cleaned,
                                                                        strict=True))

    sample = [tracks[i] for i in rng.choice(len(tracks), 100, replace=False)]
    with session_scope(engine) as session:
        tokens = {g: users.add(session, f"bench-{w}", "worker", g)[1] for w, g, *_ in sample}
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "0",
           "GRIDMAP_ACCESS_LOG": "0"}
    latencies = []
    with served(env, 18830) as base:
        for i, (_w, g, x, y, t) in enumerate(sample):
            body = json.dumps({"type": "Feature", "geometry": {
                "type": "LineString", "coordinates": np.column_stack([x, y]).round(7).tolist()},
                "properties": {"times": [dt.datetime.fromtimestamp(s, CHINA).isoformat()
                                         for s in t], "key": f"http-{i}"}}).encode()
            request = urllib.request.Request(base + "/v1/patrols", data=body, headers={
                "Authorization": f"Bearer {tokens[g]}", "Content-Type": "application/json"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(request) as answer:
                answer.read()
            latencies.append(time.perf_counter() - t0)
    engine.dispose()
    median = statistics.median(latencies)
    return [
        Figure("a district's day of patrols", "tracks × points × km",
               len(tracks), "tracks", f"{points:,} points, {km:,.0f} km, {dropped:,} points "
                                      "dropped (spikes, stops)"),
        Figure("a district's day of patrols", "batch: clean + coverage + insert", batch, "s",
               f"clean {t_clean:.1f} s, coverage (shares_of_day) {t_share:.1f} s, insert "
               f"{t_insert:.1f} s"),
        Figure("a district's day of patrols", "per request: POST /v1/patrols (100 tracks)",
               median * 1000, "ms p50",
               f"p95 {sorted(latencies)[94] * 1000:.0f} ms; the whole day one by one ≈ "
               f"{median * len(tracks) / 60:.1f} min on one client"),
    ]
