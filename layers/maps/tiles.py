"""Vector tiles (MVT) straight from PostGIS: ST_AsMVTGeom + ST_AsMVT, with the tile envelope
transformed into the column's SRID (4326) so the GiST index is used, as tipg does.

For a basemap in GCJ-02 (Amap, Tencent) the tile's features are shifted by the GCJ-02 offset at
the tile's centre: the offset changes by well under a metre across a tile at street zooms, so the
overlay lines up with the basemap to within a pixel.
"""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.chinese_offsets import wgs84_to_gcj02

# layer → (table, properties, extra filter). Areas are the active generation's grids.
TILE_LAYERS = {
    "grids": ("areas", "code, name, kind::text AS kind",
              "AND level = 'grid' AND generation_id = (SELECT id FROM generations "
              "WHERE status = 'active')"),
    "buildings": ("buildings", "code, name, address, households, floors", ""),
    "alleys": ("alleys", "code, name", ""),
    "roads": ("roads", "code, name", ""),
    "cameras": ("cameras", "code, name, kind::text AS kind, heading_deg, fov_deg, range_m", ""),
    "sites": ("sites", "code, name, kind", ""),
    "cases": ("cases", "case_no AS code, category_code, status::text AS status", ""),
}


class UnknownTileLayer(LookupError):
    pass


def _tile_centre(z: int, x: int, y: int) -> tuple[float, float]:
    n = 2.0 ** z
    lon = (x + 0.5) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    return lon, lat


def tile(session: Session, layer: str, z: int, x: int, y: int, datum: str = "wgs84") -> bytes:
    if layer not in TILE_LAYERS:
        raise UnknownTileLayer(f"no tile layer {layer!r}; use one of {', '.join(TILE_LAYERS)}")
    if not (0 <= z <= 22 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise UnknownTileLayer(f"no tile {z}/{x}/{y}")
    table, props, where = TILE_LAYERS[layer]
    dx = dy = 0.0
    if datum == "gcj02":
        lon, lat = _tile_centre(z, x, y)
        glon, glat = wgs84_to_gcj02(lon, lat)
        dx, dy = float(glon) - lon, float(glat) - lat
    sql = f"""
        WITH bounds AS (
            SELECT ST_TileEnvelope(:z, :x, :y) AS b3857,
                   ST_Translate(ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.02), 4326),
                                -:dx, -:dy) AS b4326
        ), features AS (
            SELECT ST_AsMVTGeom(ST_Transform(ST_Translate(t.geom, :dx, :dy), 3857), bounds.b3857,
                                4096, 64, true) AS geom, {props}
            FROM {table} t, bounds
            WHERE t.geom && bounds.b4326 {where}
        )
        SELECT ST_AsMVT(features, :layer, 4096, 'geom') FROM features
    """
    data = session.execute(text(sql), {"z": z, "x": x, "y": y, "dx": dx, "dy": dy,
                                       "layer": layer}).scalar()
    return bytes(data or b"")
