"""GET /v1/locate over HTTP under load (wrk, 32 connections, loopback), gridmap's in-memory
index against the same endpoint answering with one PostGIS ST_Covers query per request
(``engine=postgis``). Both serve identical JSON; only the grid lookup differs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import create_engine

from bench.runner import Figure
from gridmap.settings import get_settings
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.cluster import pick_free_port

DURATION_S = 15
CONNECTIONS = 32
WORKERS = 2


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


def _wrk(port: int, script: Path) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--latency",
                          "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout

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
    from bench.scratch import scratch_url

    url = scratch_url()
    engine = create_engine(url)
    city = generate(get_settings().boundaries_dir / "370811.geojson", scale=1.0)
    assert write_validated(engine, city).ok
    engine.dispose()
    grids = city.layers["areas"].query("level == 'grid'")
    rng = np.random.default_rng(5)
    points = np.array([shapely.get_coordinates(g.representative_point())[0]
                       for g in grids.geometry.sample(1000, random_state=1, replace=True)])
    points += rng.normal(0, 1e-5, points.shape)  # near each grid's inside point
    port = pick_free_port(18700)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                               "--workers", str(WORKERS), "--log-level", "warning"], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/locate?lon=116.59&lat=35.41",
                                       timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("memory", "postgis"):
                script = Path(tmp) / f"{name}.lua"
                script.write_text(_lua(points, name))
                _wrk(port, script)  # warm every worker
                results[name] = _wrk(port, script)
    finally:
        server.terminate()
        server.wait(timeout=30)
    mem, pg = results["memory"], results["postgis"]
    note = f"wrk -c{CONNECTIONS} -d{DURATION_S}s, {WORKERS} uvicorn workers, loopback"
    return [
        Figure("GET /v1/locate", "gridmap in-memory: throughput", mem["rps"], "req/s", note),
        Figure("GET /v1/locate", "gridmap in-memory: p50 / p99", mem["p50"], "ms",
               f"p99 {mem['p99']:.1f} ms"),
        Figure("GET /v1/locate", "PostGIS per request: throughput", pg["rps"], "req/s", note),
        Figure("GET /v1/locate", "PostGIS per request: p50 / p99", pg["p50"], "ms",
               f"p99 {pg['p99']:.1f} ms"),
        Figure("GET /v1/locate", "ratio", mem["rps"] / pg["rps"], "×", "in-memory / PostGIS"),
    ]
