"""Reads under load with 1 and 2 API processes, on the primary alone and with a streaming replica
(``gridmap db replica up``): buildings vector tiles at z14 (each a PostGIS ``ST_AsMVT`` query),
wrk with 16 connections over 36 tiles of the urban core.

The replica runs on the same 2 cores as the primary, the API and wrk, so what it can show here is
that the reads can move off the primary and what that costs; more throughput needs the replica
on another machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, make_url

from bench.bench_tiles import _tiles
from bench.runner import Figure
from gridmap.settings import get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated

DURATION_S = 10
CONNECTIONS = 16


def run() -> list[Figure]:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): skipping the replica benchmark")
        return []
    from bench.bench_http import _wrk
    from bench.scratch import scratch_url, served
    from layers.storage.db import local_cluster

    if get_settings().database_url:
        print("GRIDMAP_DATABASE_URL is set: the replica benchmark needs the local cluster")
        return []
    url = scratch_url()
    engine = create_engine(url)
    assert write_validated(engine, generate(get_settings().boundaries_dir / "370811.geojson")).ok
    engine.dispose()
    cluster = local_cluster()
    had_replica = cluster.replica_running()
    replica = make_url(cluster.replica_up()).set(database=make_url(url).database)
    replica_url = replica.render_as_string(hide_password=False)
    paths = [f"/tiles/buildings/{z}/{x}/{y}.pbf" for z, x, y in _tiles(14, 6)]
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "tiles.lua"
            script.write_text("local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
                              "math.randomseed(7)\nrequest = function()\n"
                              "  return wrk.format('GET', paths[math.random(#paths)])\nend\n")
            base_env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "0"}
            variants = {"1 process, primary": (1, base_env),
                        "2 processes, primary": (2, base_env),
                        "2 processes, reads on the replica": (
                            2, {**base_env, "GRIDMAP_DATABASE_READ_URL": replica_url})}
            for name, (workers, env) in variants.items():
                with served(env, 18600, workers=workers, quiet=True) as base:
                    _wrk(base, script, connections=CONNECTIONS)  # warm
                    run = _wrk(base, script, connections=CONNECTIONS)
                if run["errors"]:
                    raise RuntimeError(f"{name}: answers that were not 200")
                results[name] = run["rps"]
    finally:
        if not had_replica:
            cluster.replica_down()
    note = f"wrk -c{CONNECTIONS} -d{DURATION_S}s, 36 z14 buildings tiles; all on 2 cores"
    return [Figure("tiles under load", name, rps, "req/s", note) for name, rps in results.items()]
