"""Vector tiles (MVT) straight from PostGIS: ST_AsMVTGeom + ST_AsMVT, with the tile envelope
transformed into the column's SRID (4326) so the GiST index is used, as tipg does. The tile layers
and what they carry are declared in layers/registry.py.

Every feature carries a stable integer id (the MVT feature id, and the same value as an ``id``
property so that MapLibre's ``promoteId: "id"`` works too; TileJSON says so): what MapLibre's
``feature-state`` (hover, selection) keys on.

**Size budget.** A layer declared with a ``detail_zoom`` is generalised below it: the tile's
grid is halved per zoom (4096 units at the detail zoom, 2048 one zoom out, … at least 256), so
``ST_AsMVTGeom`` snaps each outline to that coarser grid and drops what collapses — buildings
smaller than about a screen pixel — and only the ``generalised_columns`` are carried (no names or
addresses nobody can click at that zoom). The buildings' z10 tile of the demo city fell from
1.49 MB (docs/benchmarks.md).

For a basemap in GCJ-02 (Amap, Tencent) the tile's features are shifted by the GCJ-02 offset at
the tile's centre: the offset changes by well under a metre across a tile at street zooms, so the
overlay lines up with the basemap to within a pixel.
"""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.chinese_offsets import wgs84_to_gcj02
from layers.access.policy import ANONYMOUS, Principal, require_read
from layers.errors import DomainError
from layers.registry import REGISTRY, LayerSpec, TileSpec

DETAIL_EXTENT = 4096  # MVT units across a tile at and above a layer's detail zoom
MIN_EXTENT = 256
ID_FIELD = "id"


class UnknownTileLayer(DomainError, LookupError):
    code = "tile_not_found"


def tile_layer(name: str) -> tuple[LayerSpec, TileSpec]:
    layers = REGISTRY.tiles()
    if name not in layers:
        raise UnknownTileLayer(f"no tile layer {name!r}; use one of {', '.join(layers)}")
    return layers[name]


def _tile_centre(z: int, x: int, y: int) -> tuple[float, float]:
    n = 2.0 ** z
    lon = (x + 0.5) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    return lon, lat


def tile(session: Session, layer: str, z: int, x: int, y: int, datum: str = "wgs84", *,
         by: Principal = ANONYMOUS) -> tuple[bytes, bool]:
    """One MVT tile and whether it is public (cacheable by anyone). A layer that is not public
    needs a principal whose role may read it, and holds only the rows inside its scope."""
    spec, tile_spec = tile_layer(layer)
    read_role = tile_spec.read_role or spec.read_role
    require_read(by, read_role, f"tile layer {layer}")
    if not (0 <= z <= 22 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise UnknownTileLayer(f"no tile {z}/{x}/{y}")
    public = read_role == "public"
    scope = None if public else by.scope_code
    dx = dy = 0.0
    if datum == "gcj02":
        lon, lat = _tile_centre(z, x, y)
        glon, glat = wgs84_to_gcj02(lon, lat)
        dx, dy = float(glon) - lon, float(glat) - lat
    detailed = z >= tile_spec.detail_zoom
    extent = DETAIL_EXTENT if detailed else max(MIN_EXTENT,
                                                DETAIL_EXTENT >> (tile_spec.detail_zoom - z))
    columns = tile_spec.columns if detailed else tile_spec.generalised_columns
    sql = f"""
        WITH bounds AS (
            SELECT ST_TileEnvelope(:z, :x, :y) AS b3857,
                   ST_Translate(ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.02), 4326),
                                -:dx, -:dy) AS b4326
        ), features AS (
            SELECT ST_AsMVTGeom(ST_Transform(ST_Translate(t.geom, :dx, :dy), 3857), bounds.b3857,
                                :extent, :extent / 64, true) AS geom,
                   {tile_spec.id_sql} AS id, {tile_spec.id_sql} AS id{", " if columns else ""}{columns}
            FROM {spec.table} t, bounds
            WHERE t.geom && bounds.b4326 AND {spec.current_rows_sql("t")} {tile_spec.where}
              AND {spec.scope_sql(scope)}
        )
        SELECT ST_AsMVT(features, :layer, :extent, 'geom', 'id') FROM features
    """
    data = session.execute(text(sql), {"z": z, "x": x, "y": y, "dx": dx, "dy": dy,
                                       "layer": layer, "scope": scope, "extent": extent}).scalar()
    return bytes(data or b""), public


def tilejson(session: Session, layer: str, base_url: str, *, by: Principal = ANONYMOUS) -> dict:
    """A TileJSON 3.0 document for one tile layer: where its tiles are, its zooms, its extent and
    its fields — what MapLibre, QGIS and other clients read first."""
    spec, tile_spec = tile_layer(layer)
    require_read(by, tile_spec.read_role or spec.read_role, f"tile layer {layer}")
    bbox = session.execute(text(
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        f"(SELECT ST_Extent(geom) AS e FROM {spec.table} t WHERE {spec.current_rows_sql('t')}) q"
    )).one()
    fields = [c.strip().split(" AS ")[-1].split(".")[-1].strip()
              for c in tile_spec.columns.split(",") if c.strip()]
    return {
        "tilejson": "3.0.0", "name": layer, "description": spec.label_zh,
        "tiles": [f"{base_url.rstrip('/')}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"],
        "minzoom": 0, "maxzoom": 22, "scheme": "xyz",
        "bounds": [round(v, 6) for v in bbox] if bbox[0] is not None else [-180, -85, 180, 85],
        # every feature's id is a stable integer, also as the ``id`` property: MapLibre reads
        # the feature id as it is, or takes ``promoteId: "id"`` on the source
        "promoteId": ID_FIELD,
        "vector_layers": [{"id": layer, "description": spec.label_zh, "minzoom": 0, "maxzoom": 22,
                           "fields": {ID_FIELD: "Number", **{f: "" for f in fields}}}],
    }
