"""`gridmap geocode` on every resident's 现住址 (1,162,189 rows) — the code before issue 21 and
this code, one after the other in the same run, on the same database and file (the machine's
speed varies 3× from hour to hour, so only the ratio within one run is compared).

Needs the full demo with its register in the database ``GRIDMAP_DATABASE_URL`` names (or the
local cluster's): ``gridmap demo load`` first. ``BEFORE`` is the commit the issue's branch began
from; its source is taken with ``git archive`` into a temporary folder and run with this
virtualenv (the same dependencies, opencc aside).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_register import write_addresses
from bench.runner import Figure

BEFORE = "aeff3da"
ROOT = Path(__file__).resolve().parents[1]


def _command(source: Path, out: Path, tree: Path, url: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "GRIDMAP_DATABASE_URL": url}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from gridmap.cli import app; app()", "geocode",
                           str(source), "--out", str(out)], env=env, capture_output=True,
                          text=True, cwd=tree)
    if done.returncode:
        raise RuntimeError(f"gridmap geocode in {tree} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def run() -> list[Figure]:
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
    figures = []
    for label, tree in ((f"before ({BEFORE})", before), ("this code", ROOT)):
        out = tmp / f"{tree.name}.csv"
        took = _command(source, out, tree, url)
        with out.open(encoding="utf-8-sig") as f:
            answers = [r["dwelling_id"] for r in csv.DictReader(f)]
        right = sum(a == t for a, t in zip(answers, truth, strict=True))
        wrong = sum(a not in ("", t) for a, t in zip(answers, truth, strict=True))
        figures += [
            Figure("bulk geocoding, the register's 现住址", f"{label}: whole command",
                   len(rows) / took, "rows/s", f"{len(rows):,} rows in {took:.1f} s"),
            Figure("bulk geocoding, the register's 现住址", f"{label}: distinct addresses",
                   distinct / took, "addresses/s", f"{distinct:,} distinct; target ≥ 50,000"),
            Figure("bulk geocoding, the register's 现住址", f"{label}: own dwelling",
                   100 * right / len(rows), "%", f"{wrong} wrong dwellings"),
        ]
    return figures
