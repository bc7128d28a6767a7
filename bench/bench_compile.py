"""What a fresh checkout pays before its first locator answers: the point index's numba kernels
compiled with an empty cache (``NUMBA_CACHE_DIR`` in a temporary directory), in a child process,
as CPU seconds (the machine's load moves wall time 3×, CPU time much less):

- the build kernels and ``_locate_one`` — what a server compiles before ``/readyz`` says 200;
- the bulk kernels (``parallel=True``), compiled on the first ``gridmap locate`` or batch;
- the five slowest compiles, from numba's ``numba:compile`` events (nested: a callee's time is
  inside its caller's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from bench.runner import Figure

CHILD = r"""
import json, time
from numba.core import event
import numpy as np, shapely

class Compiles(event.Listener):
    def __init__(self):
        self.open, self.done = [], []
    def on_start(self, ev):
        self.open.append(time.process_time())
    def on_end(self, ev):
        started = self.open.pop()
        name = getattr(ev.data.get("dispatcher"), "__qualname__", "?")
        self.done.append((time.process_time() - started, name))

compiles = Compiles()
event.register("numba:compile", compiles)
from gis.locator import GridIndex
polygons = [shapely.box(0, 0, 1, 1), shapely.Polygon([(1, 0), (2, 0), (2, 1), (1.5, 1.2), (1, 1)])]
t0 = time.process_time()
index = GridIndex(["a", "b"], polygons)
index.locate_one(0.5, 0.5)
t1 = time.process_time()
index.locate(np.array([0.5, 1.0, 1.5]), np.array([0.5, 0.5, 0.5]))
t2 = time.process_time()
print(json.dumps({"serve": t1 - t0, "bulk": t2 - t1, "slowest": sorted(compiles.done)[-5:]}))
"""


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                             check=True, env={**os.environ, "NUMBA_CACHE_DIR": cache}).stdout
    found = json.loads(out.strip().splitlines()[-1])
    slowest = ", ".join(f"{name} {seconds:.1f} s" for seconds, name in reversed(found["slowest"]))
    return [
        Figure("numba compile, empty cache", "build kernels + _locate_one (before ready)",
               found["serve"], "s CPU", slowest),
        Figure("numba compile, empty cache", "bulk kernels (parallel)", found["bulk"], "s CPU"),
    ]
