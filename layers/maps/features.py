"""Features of the registry's layers for OGC API – Features: one collection per declared spatial
layer, serialised by PostGIS (``ST_AsGeoJSON`` → JSON text passed through, never parsed and dumped
again). Versioned layers answer with the active generation's rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

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
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    except ValueError:
        raise InvalidBbox("bbox must be minLon,minLat,maxLon,maxLat", zh="bbox 参数有误") from None
    return x0, y0, x1, y1


def _properties_sql(spec: LayerSpec) -> str:
    pairs = ", ".join(f"'{f.name}', t.{f.name}" for f in spec.fields if f.name != "parent_code")
    return f"jsonb_build_object({pairs}) || t.properties"


def _feature_sql(spec: LayerSpec) -> str:
    return (f"json_build_object('type', 'Feature', 'id', t.code, "
            f"'geometry', ST_AsGeoJSON(t.geom, 7)::json, "
            f"'properties', {_properties_sql(spec)})::text")


def _rows(spec: LayerSpec, by: Principal) -> str:
    """The rows a principal may see: current ones, inside its scope (public layers: all)."""
    scope = None if spec.read_role == "public" else by.scope_code
    return f"{spec.current_rows_sql('t')} AND {spec.scope_sql(scope)}"


def extent(session: Session, spec: LayerSpec, by: Principal) -> list[float] | None:
    row = session.execute(text(
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        f"(SELECT ST_Extent(geom) AS e FROM {spec.table} t WHERE {_rows(spec, by)}) q"
    ), {"scope": by.scope_code}).one()
    return None if row[0] is None else list(row)


@dataclass(frozen=True)
class Page:
    matched: int | None  # counted on the first page only
    features: list[str]  # GeoJSON Feature texts, as PostGIS wrote them
    next_after: str | None = None  # the key to continue after, when there is more


def page(session: Session, spec: LayerSpec, by: Principal, *, limit: int, offset: int = 0,
         after: str | None = None, bbox: tuple[float, float, float, float] | None = None) -> Page:
    """A page in code order. ``after`` (the last code of the previous page) pages by key: each
    page costs the same however deep it is, where OFFSET reads and drops every earlier row.
    The total (``matched``) is counted on the first page only: GDAL asks for thousands of pages."""
    params: dict = {"limit": limit + 1, "offset": offset, "scope": by.scope_code, "after": after}
    where = _rows(spec, by)
    if bbox is not None:
        where += " AND t.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    first = after is None and offset == 0
    matched = session.execute(text(f"SELECT count(*) FROM {spec.table} t WHERE {where}"),
                              params).scalar() if first else None
    if after is not None:
        where += " AND t.code > :after"
    rows = session.execute(text(f"""
        SELECT t.code, {_feature_sql(spec)} FROM {spec.table} t WHERE {where}
        ORDER BY t.code LIMIT :limit OFFSET :offset
    """), params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(matched, [r[1] for r in rows], rows[-1][0] if more and rows else None)


def one(session: Session, spec: LayerSpec, by: Principal, feature_id: str) -> str:
    row = session.execute(text(f"""
        SELECT {_feature_sql(spec)} FROM {spec.table} t
        WHERE {_rows(spec, by)} AND t.code = :code"""),
        {"code": feature_id, "scope": by.scope_code}).scalar()
    if row is None:
        raise FeatureNotFound(f"no feature {feature_id} in {spec.name}", zh="未找到该要素")
    return row
