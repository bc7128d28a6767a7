"""Features of the registry's layers for OGC API – Features: one collection per declared spatial
layer, serialised by PostGIS (``ST_AsGeoJSON`` → JSON text passed through, never parsed and dumped
again). Versioned layers answer with the active generation's rows."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers import clock
from layers.access.policy import Principal, may_read, require_read
from layers.errors import DomainError
from layers.registry import REGISTRY, LayerSpec


class CollectionNotFound(DomainError):
    code = "collection_not_found"


class FeatureNotFound(DomainError):
    code = "feature_not_found"


class UnknownParameter(DomainError):
    code = "unknown_parameter"


class InvalidBbox(DomainError):
    code = "invalid_bbox"


class InvalidParameter(DomainError):
    code = "invalid_parameter"


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# OGC API – Features Part 2: the CRSs every collection answers in. EPSG:4326 and EPSG:4490
# (CGCS2000, treated as identical to WGS84: docs/coordinates.md) are latitude-first as EPSG
# defines them; EPSG:4548 is CGCS2000 / 3-degree Gauss–Krüger CM 117°E (Jining), easting first.
CRS_URI = {
    CRS84: (4326, False),
    "http://www.opengis.net/def/crs/EPSG/0/4326": (4326, True),
    "http://www.opengis.net/def/crs/EPSG/0/4490": (4490, True),
    "http://www.opengis.net/def/crs/EPSG/0/4548": (4548, False),
}


def output_crs(uri: str | None) -> tuple[str, int, bool]:
    """(uri, srid, latitude first) of a ``crs``/``bbox-crs`` parameter; default CRS84."""
    uri = uri or CRS84
    if uri not in CRS_URI:
        raise InvalidParameter(f"crs {uri[:100]!r} is not served; use one of {', '.join(CRS_URI)}",
                               zh="不支持的坐标参考系")
    return (uri, *CRS_URI[uri])


def _geometry_sql(srid: int, lat_first: bool) -> str:
    geom = "t.geom" if srid in (4326, 4490) else f"ST_Transform(t.geom, {srid})"
    if lat_first:
        geom = f"ST_FlipCoordinates({geom})"
    digits = 7 if srid in (4326, 4490) else 3  # 1 cm in degrees or metres
    return f"ST_AsGeoJSON({geom}, {digits})::json"


def parse_datetime(value: str) -> dt.date:
    """The day (a date, or the Beijing date of an RFC 3339 time) whose boundaries a versioned
    layer answers with."""
    if "/" in value:
        raise InvalidParameter("datetime must be one instant (2025-06-01 or "
                               "2025-06-01T00:00:00Z) here: the boundaries in force then",
                               zh="datetime 须为单一时刻")
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else \
            clock.day_of(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidParameter(f"datetime {value[:40]!r} is not RFC 3339 (2025-06-01T00:00:00Z)",
                               zh="datetime 格式有误") from None


def readable(by: Principal) -> list[LayerSpec]:
    """The collections this principal may read."""
    return [s for s in REGISTRY.collections() if may_read(by, s.read_role)]


def collection(collection_id: str, by: Principal) -> LayerSpec:
    spec = REGISTRY.get(collection_id)
    if spec is None or spec not in REGISTRY.collections():
        raise CollectionNotFound(f"no collection {collection_id}; see /ogc/collections",
                                 zh="未找到该图层")
    require_read(by, spec.read_role, f"collection {collection_id}")
    return spec


def parse_bbox(bbox: str) -> tuple[float, float, float, float]:
    """Four finite numbers, the lower corner first (an inverted box is refused, not read as an
    empty one or as one crossing the antimeridian)."""
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    except ValueError:
        raise InvalidBbox("bbox must be minLon,minLat,maxLon,maxLat", zh="bbox 参数有误") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InvalidBbox("bbox must be four finite numbers", zh="bbox 参数有误")
    if x0 > x1 or y0 > y1:
        raise InvalidBbox(f"bbox {bbox[:80]} is inverted: write the lower corner first "
                          "(minLon,minLat,maxLon,maxLat)", zh="bbox 的最小值大于最大值")
    return x0, y0, x1, y1


def _properties_sql(spec: LayerSpec) -> str:
    pairs = ", ".join(f"'{f.name}', t.{f.name}" for f in spec.fields if f.name != "parent_code")
    return f"jsonb_build_object({pairs}) || t.properties"


def _feature_sql(spec: LayerSpec, srid: int = 4326, lat_first: bool = False) -> str:
    return (f"json_build_object('type', 'Feature', 'id', t.code, "
            f"'geometry', {_geometry_sql(srid, lat_first)}, "
            f"'properties', {_properties_sql(spec)})::text")


IN_FORCE_SQL = ("(SELECT id FROM generations WHERE status <> 'draft' AND effective_from <= :day "
                "AND (effective_to IS NULL OR effective_to > :day) ORDER BY id DESC LIMIT 1)")


def _rows(spec: LayerSpec, by: Principal, *, on_day=None) -> str:
    """The rows a principal may see: current ones (or, for a versioned layer and ``on_day``,
    the generation in force that day), inside its scope (public layers: all)."""
    scope = None if spec.read_role == "public" else by.scope_code
    current = (f"t.generation_id = {IN_FORCE_SQL}" if spec.versioned and on_day is not None
               else spec.current_rows_sql("t"))
    return f"{current} AND {spec.scope_sql(scope)}"


def filterable(spec: LayerSpec) -> list[str]:
    """The properties a collection filters on by equality (``?kind=school``): its declared
    fields."""
    return [f.name for f in spec.fields if f.name != "parent_code"]


def extent(session: Session, spec: LayerSpec, by: Principal) -> dict | None:
    """A collection's ``extent`` (OGC API Features): the bounding box of the rows the principal
    may see (CRS84) and, for a versioned layer, the interval its generations were in force —
    what GDAL and QGIS would otherwise learn by reading every feature. None when it is empty."""
    row = session.execute(text(
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        f"(SELECT ST_Extent(geom) AS e FROM {spec.table} t WHERE {_rows(spec, by)}) q"
    ), {"scope": by.scope_code}).one()
    if row[0] is None:
        return None
    answer: dict = {"spatial": {"bbox": [list(row)], "crs": CRS84}}
    if spec.versioned:
        first, last, current = session.execute(text(
            "SELECT min(effective_from), max(effective_to), bool_or(effective_to IS NULL) "
            "FROM generations WHERE status <> 'draft' AND effective_from IS NOT NULL")).one()
        if first is not None:
            answer["temporal"] = {"interval": [[clock.start_of(first).isoformat(), None if current
                                                else clock.start_of(last).isoformat()]],
                                  "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return answer


def queryables(spec: LayerSpec) -> dict:
    """The properties ``/items`` filters on by equality, as OGC API Features Part 3 describes
    them (a JSON Schema): the collection's declared fields, with their types and vocabularies."""
    types = {str: "string", int: "integer", float: "number"}
    properties: dict = {}
    for name in filterable(spec):
        f = spec.field(name)
        properties[name] = {"title": name, "type": types[f.type]}
        if f.choices:
            properties[name]["enum"] = list(f.choices)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "title": spec.label_zh, "properties": properties, "additionalProperties": False}


@dataclass(frozen=True)
class Page:
    matched: int | None  # counted on the first page only
    features: list[str]  # GeoJSON Feature texts, as PostGIS wrote them
    next_after: str | None = None  # the key to continue after, when there is more


def page_sql(spec: LayerSpec, by: Principal, *, limit: int, offset: int = 0,
             after: str | None = None, bbox: tuple[float, float, float, float] | None = None,
             bbox_srid: int = 4326, on_day=None, equals: dict[str, str] | None = None,
             srid: int = 4326, lat_first: bool = False) -> tuple[str | None, str, dict]:
    """(the count's SQL on a first page else None, the rows' SQL, their parameters) of a page in
    code order. ``after`` (the last code of the previous page) pages by key: each page costs the
    same however deep it is, where OFFSET reads and drops every earlier row. The total is counted
    on the first page only: GDAL asks for thousands of pages."""
    params: dict = {"limit": limit + 1, "offset": offset, "scope": by.scope_code, "after": after,
                    "day": on_day}
    where = _rows(spec, by, on_day=on_day)
    if bbox is not None:  # in its own CRS, compared in the stored one (CGCS2000 = WGS84)
        envelope = f"ST_MakeEnvelope(:x0, :y0, :x1, :y1, {4326 if bbox_srid == 4490 else bbox_srid})"
        if bbox_srid not in (4326, 4490):
            envelope = f"ST_Transform({envelope}, 4326)"
        where += f" AND ST_Intersects(t.geom, {envelope})"  # the index, then the geometry
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    allowed = set(filterable(spec))
    for i, (name, value) in enumerate(sorted((equals or {}).items())):
        if name not in allowed:  # names come from the declaration, never from the request
            raise UnknownParameter(f"{name} is not a property of {spec.name}", zh="不支持的查询参数")
        where += f" AND CAST(t.{name} AS text) = :eq{i}"
        params[f"eq{i}"] = value
    first = after is None and offset == 0
    count = f"SELECT count(*) FROM {spec.table} t WHERE {where}" if first else None
    if after is not None:
        where += " AND t.code > :after"
    rows = f"""
        SELECT t.code, {_feature_sql(spec, srid, lat_first)} FROM {spec.table} t WHERE {where}
        ORDER BY t.code LIMIT :limit OFFSET :offset
    """
    return count, rows, params


def page(session: Session, spec: LayerSpec, by: Principal, *, limit: int, **options) -> Page:
    """A page in code order (``page_sql``), read in the session."""
    count, rows_sql, params = page_sql(spec, by, limit=limit, **options)
    matched = session.execute(text(count), params).scalar() if count else None
    return _page_of(session.execute(text(rows_sql), params).all(), limit, matched)


async def rows_after_async(conn, spec: LayerSpec, by: Principal, *, limit: int,
                           after: str) -> list[tuple[str, str]]:
    """The ``limit + 1`` rows (code, GeoJSON Feature text) after a key, read on a psycopg
    ``AsyncConnection``: the SQL of a page after that key (``page_sql``: no count), its
    placeholders as SQLAlchemy's psycopg dialect writes them. layers/maps/read_ahead.py makes
    pages of them."""
    _count, rows_sql, params = page_sql(spec, by, limit=limit, after=after)
    cursor = await conn.execute(_psycopg_sql(rows_sql), params)
    return await cursor.fetchall()


@lru_cache(maxsize=256)
def _psycopg_sql(sql: str) -> str:
    from sqlalchemy.dialects.postgresql import psycopg

    return str(text(sql).compile(dialect=psycopg.dialect()))


def _page_of(rows, limit: int, matched: int | None) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(matched, [r[1] for r in rows], rows[-1][0] if more and rows else None)


def one(session: Session, spec: LayerSpec, by: Principal, feature_id: str, *,
        srid: int = 4326, lat_first: bool = False, on_day=None) -> str:
    row = session.execute(text(f"""
        SELECT {_feature_sql(spec, srid, lat_first)} FROM {spec.table} t
        WHERE {_rows(spec, by, on_day=on_day)} AND t.code = :code"""),
        {"code": feature_id, "scope": by.scope_code, "day": on_day}).scalar()
    if row is None:
        raise FeatureNotFound(f"no feature {feature_id} in {spec.name}", zh="未找到该要素")
    return row
