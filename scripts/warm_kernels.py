"""Compile gridmap's numba kernels into their on-disk cache (``cache=True``: ``__pycache__``
beside the modules), so that later processes load them instead of compiling them.

In a fresh clone every process that first locates a point compiles the locator's kernels: about
20 s of CPU on this machine, paid by each test worker at once and by each server a test starts.
``./test.sh`` runs this beside ruff and mypy, before the tests. The kernels are specialised on
their argument types, so they are warmed through the same public calls the code makes.
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.locator import GridIndex
from gis.track import clean
from layers.locating import bulk
from layers.locating.locators import Locator


def main() -> None:
    index = GridIndex(["A", "B"], [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    # inside, on the shared edge (a leaf), outside
    index.locate(np.array([0.5, 1.0, 1.5, 3.0]), np.array([0.5, 0.5, 0.5, 0.5]))
    index.locate_one(0.5, 0.5)
    index.locate_one(1.0, 0.25)
    clean(np.array([116.6, 116.6001, 116.6002]), np.array([35.4, 35.4, 35.4]),
          np.array([0.0, 60.0, 120.0]), max_speed_ms=3.0)
    # the bulk path's CSV kernels (gridmap locate, the register's import), on a tiny locator
    codes = ["37081100100101", "37081100100102"]
    grids = GridIndex(codes, [shapely.box(116, 35, 116.5, 35.5), shapely.box(116.5, 35, 117, 35.5)])
    areas = {c: {"code": c, "name": "网格", "level": "grid", "kind": "comprehensive"} for c in codes}
    locator = Locator(generation={"id": 0}, index=grids, areas=areas, workers={}, rooms=[])
    b"".join(bulk.locate_csv(locator, "name,lon,lat\na,116.2,35.2\nb,116.7,35.1\nc,118,36\n",
                             "wgs84"))


if __name__ == "__main__":
    main()
