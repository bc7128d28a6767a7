"""`gridmap geocode` on every resident's 现住址 (1,162,189 rows) — the code before issue 21 (or
``GRIDMAP_BENCH_BEFORE``, e.g. the commit a branch began from) and this code, alternating (A B A
B …) in the same run, on the same database and file; and single queries in process (p50) on
this code's gazetteer: register addresses, sites and organisations by name. The machine is
shared and its speed varies several times over within minutes, so both the wall time and the CPU
time the command and its workers used are reported, as medians; the CPU time barely moves with
the load, the wall time does.

Needs the full demo with its register in the database ``GRIDMAP_DATABASE_URL`` names (or the
local cluster's): ``gridmap demo load`` first. ``BEFORE`` is the commit the issue's branch began
from; its source is taken with ``git archive`` into a temporary folder and run with this
virtualenv (the same dependencies, opencc aside).
"""

from __future__ import annotations

import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_register import write_addresses
from bench.runner import Figure

BEFORE = os.environ.get("GRIDMAP_BENCH_BEFORE", "aeff3da")
ROUNDS = int(os.environ.get("GRIDMAP_BENCH_ROUNDS", "3"))
ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _command(source: Path, out: Path, tree: Path, url: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole command, its forked workers included."""
    env = {**os.environ, "PYTHONPATH": str(tree), "GRIDMAP_DATABASE_URL": url}
    cpu = _cpu()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from gridmap.cli import app; app()", "geocode",
                           str(source), "--out", str(out)], env=env, capture_output=True,
                          text=True, cwd=tree)
    if done.returncode:
        raise RuntimeError(f"gridmap geocode in {tree} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started, _cpu() - cpu


def single_queries(engine, addresses: list[str]) -> list[Figure]:
    """p50 and p90 of one ``Gazetteer.search`` in process (what an API request costs the
    geocoder) on a complete gazetteer: 4,000 register addresses, every site and 2,000
    organisations by name; and how long completing it took."""
    from sqlalchemy import text

    from layers.locating.locators import LocatorRegistry

    gz = LocatorRegistry(engine).active().gazetteer
    assert gz is not None  # built with its addresses
    started = time.perf_counter()
    gz.complete()  # the organisations' names, as a server indexes them once it answers
    figures = [Figure("single query in process (Gazetteer.search)",
                      "organisations' names indexed after the build", time.perf_counter() - started,
                      "s", "what a server does in its rebuild thread once it answers, and "
                      "gridmap geocode only for a file that needs them")]
    with engine.connect() as conn:
        names = [n for (n,) in conn.execute(text(
            "SELECT name FROM sites UNION ALL "
            "(SELECT name FROM organisations ORDER BY md5(name) LIMIT 2000)"))]
    for label, queries in (("register addresses", addresses[::max(1, len(addresses) // 4000)]),
                           ("sites and organisations by name", names)):
        took = []
        for q in queries:
            started = time.perf_counter()
            gz.search(q, limit=5)
            took.append((time.perf_counter() - started) * 1000)
        took.sort()
        figures.append(Figure("single query in process (Gazetteer.search)", label,
                              statistics.median(took), "ms",
                              f"p90 {took[int(len(took) * 0.9)]:.2f} ms over {len(took):,} "
                              "queries (target p50 ≤ 5 ms)"))
    return figures


def run(rounds: int = ROUNDS) -> list[Figure]:
    from layers.storage.db import database_url, engine_for

    url = database_url()
    engine = engine_for(url)
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-geocode-bulk-"))
    source = tmp / "addresses.csv"
    rows, truth, distinct = write_addresses(engine, source)
    before = tmp / "before"
    before.mkdir()
    archive = subprocess.run(["git", "archive", BEFORE], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
    trees = {f"before ({BEFORE})": before, "this code": ROOT}
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in trees}
    figures = []
    for _ in range(rounds):
        for label, tree in trees.items():
            out = tmp / f"{tree.name}.csv"
            times[label].append(_command(source, out, tree, url))
    for label, tree in trees.items():
        with (tmp / f"{tree.name}.csv").open(encoding="utf-8-sig") as f:
            answers = [r["dwelling_id"] for r in csv.DictReader(f)]
        right = sum(a == t for a, t in zip(answers, truth, strict=True))
        wrong = sum(a not in ("", t) for a, t in zip(answers, truth, strict=True))
        wall = statistics.median(w for w, _c in times[label])
        cpu = statistics.median(c for _w, c in times[label])
        figures += [
            Figure("bulk geocoding, the register's 现住址", f"{label}: whole command, wall",
                   wall, "s", f"{len(rows) / wall:,.0f} rows/s, {distinct / wall:,.0f} distinct "
                   f"addresses/s (target ≥ 50,000); runs {[round(w, 1) for w, _c in times[label]]}"),
            Figure("bulk geocoding, the register's 现住址", f"{label}: whole command, CPU",
                   cpu, "s", f"{distinct / cpu:,.0f} distinct addresses per CPU-second; runs "
                   f"{[round(c, 1) for _w, c in times[label]]}"),
            Figure("bulk geocoding, the register's 现住址", f"{label}: own dwelling",
                   100 * right / len(rows), "%", f"{wrong} wrong dwellings"),
        ]
    return figures + single_queries(engine, sorted({r[1] for r in rows}))
