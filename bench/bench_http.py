"""GET /v1/locate over HTTP under load (wrk, 32 connections, loopback), side by side in one run:

- gridmap as served (``gridmap serve``: 2 uvicorn workers, access log on);
- the same endpoint answering with one PostGIS ST_Covers query per request (``engine=postgis``:
  identical JSON, only the grid lookup differs);
- the framework's ceiling: a FastAPI hello-world (bench/hello_world.py) on the same uvicorn,
  workers and wrk script — what no FastAPI endpoint can beat on this machine;
- gridmap with 1 worker, for how throughput grows with processes.

Three interleaved rounds (the machine is shared and noisy); medians. By default it loads a fresh
city (no cases, no register) into the scratch database; ``GRIDMAP_BENCH_HTTP_URL`` measures a
database already loaded instead — the full demo (``gridmap demo load``: cases, register,
addresses), where each process also holds the address gazetteer. ``GRIDMAP_BENCH_PORT`` moves
the servers' ports (default 18700).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from bench.runner import Figure
from gridmap.settings import get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated

DURATION_S = 10
CONNECTIONS = 32
WORKERS = 2
ROUNDS = 3


def _lua(points: np.ndarray, engine: str) -> str:
    rows = ",".join(f"{{{x:.7f},{y:.7f}}}" for x, y in points)
    return f"""
local pts = {{{rows}}}
local n = #pts
math.randomseed(42)
request = function()
  local p = pts[math.random(n)]
  return wrk.format("GET", "/v1/locate?lon=" .. p[1] .. "&lat=" .. p[2] .. "&engine={engine}")
end
"""


def _wrk(base: str, script: Path, seconds: int = DURATION_S,
         connections: int = CONNECTIONS) -> dict:
    """wrk's throughput, p50 and p99 (ms) against ``base`` with ``script``; ``errors`` when any
    answer was not 2xx or a socket failed."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), base], capture_output=True, text=True).stdout
    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed on {base}: {out[-500:]}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": ms("50"), "p99": ms("99"),
            "errors": "Non-2xx" in out or "Socket errors" in out}


def run() -> list[Figure]:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): skipping the HTTP benchmark")
        return []
    from bench.scratch import scratch_url, served

    url = os.environ.get("GRIDMAP_BENCH_HTTP_URL")
    if url is None:
        url = scratch_url()
        engine = create_engine(url)
        assert write_validated(engine, generate(get_settings().boundaries_dir / "370811.geojson",
                                                scale=1.0)).ok
    else:
        engine = create_engine(url)
    with engine.connect() as conn:  # each grid's inside point, grids drawn with replacement
        inside = conn.execute(text("""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_PointOnSurface(geom) AS p FROM areas WHERE level = 'grid'
                  AND generation_id = (SELECT id FROM generations WHERE status = 'active')) g
        """)).all()
    engine.dispose()
    rng = np.random.default_rng(5)
    points = np.array(inside)[rng.integers(0, len(inside), 1000)]
    points += rng.normal(0, 1e-5, points.shape)  # near each grid's inside point
    # the access log goes where a service's standard error goes: a file, not a terminal
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_WARM_MAPS": "false",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    ready = "/v1/locate?lon=116.59&lat=35.41"  # the hello-world has no /readyz
    runs: dict[str, list[dict]] = {k: [] for k in ("memory", "postgis", "hello", "one")}
    with contextlib.ExitStack() as stack:
        first_port = int(os.environ.get("GRIDMAP_BENCH_PORT", "18700"))
        bases = {name: stack.enter_context(served(env, first_port + 10 * i, workers=workers, app=app,
                                                  ready=ready, quiet=True))
                 for i, (name, app, workers) in enumerate((
                     ("gridmap", "api.main:app", WORKERS),
                     ("hello", "bench.hello_world:app", WORKERS),
                     ("one", "api.main:app", 1)))}
        with tempfile.TemporaryDirectory() as tmp:
            scripts = {}
            for name in ("memory", "postgis"):
                scripts[name] = Path(tmp) / f"{name}.lua"
                scripts[name].write_text(_lua(points, name))
            plain = Path(tmp) / "plain.lua"  # what a client sends: lon and lat only
            plain.write_text(_lua(points, "memory").replace('&engine=memory', ""))
            variants = {"memory": (bases["gridmap"], plain), "postgis": (bases["gridmap"],
                        scripts["postgis"]), "hello": (bases["hello"], plain),
                        "one": (bases["one"], plain)}
            for base, script in variants.values():
                _wrk(base, script, 3)  # warm every worker
            for _ in range(ROUNDS):
                for name, (base, script) in variants.items():
                    runs[name].append(_wrk(base, script))
    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
           for name, rs in runs.items()}
    mem, pg, hello, one = med["memory"], med["postgis"], med["hello"], med["one"]
    note = f"wrk -c{CONNECTIONS} -d{DURATION_S}s, median of {ROUNDS}, {WORKERS} workers"
    return [
        Figure("GET /v1/locate", "gridmap: throughput", mem["rps"], "req/s", note),
        Figure("GET /v1/locate", "gridmap: p50 / p99", mem["p50"], "ms", f"p99 {mem['p99']:.1f} ms"),
        Figure("GET /v1/locate", "FastAPI hello-world: throughput", hello["rps"], "req/s", note),
        Figure("GET /v1/locate", "FastAPI hello-world: p50 / p99", hello["p50"], "ms",
               f"p99 {hello['p99']:.1f} ms"),
        Figure("GET /v1/locate", "PostGIS per request: throughput", pg["rps"], "req/s", note),
        Figure("GET /v1/locate", "PostGIS per request: p50 / p99", pg["p50"], "ms",
               f"p99 {pg['p99']:.1f} ms"),
        Figure("GET /v1/locate", "gridmap, 1 worker: throughput", one["rps"], "req/s",
               f"wrk -c{CONNECTIONS}, median of {ROUNDS}, p99 {one['p99']:.1f} ms"),
        Figure("GET /v1/locate", "share of the hello-world ceiling", 100 * mem["rps"] / hello["rps"],
               "%", "goal ≥ 60 %"),
        Figure("GET /v1/locate", "ratio to PostGIS per request", mem["rps"] / pg["rps"], "×",
               "goal ≥ 4×"),
        Figure("GET /v1/locate", "2 workers / 1 worker", mem["rps"] / one["rps"], "×",
               "2 cores shared with wrk"),
        Figure("GET /v1/locate", "every response 200", float(not any(
            r["errors"] for rs in runs.values() for r in rs)), "", "1 = no non-2xx or socket errors"),
    ]
