"""OGC API – Features (Part 1 core, GeoJSON) over every spatial layer in the registry, readable
by GDAL's OAPIF driver and QGIS. One declaration in layers/registry.py → one collection here.
Features are serialised by PostGIS (ST_AsGeoJSON); areas are the active generation's."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import text

from api.deps import SessionDep
from api.errors import ApiError
from api.security import Principal, access
from layers.registry import BY_NAME, SPATIAL_LAYERS, LayerSpec

router = APIRouter(prefix="/ogc", tags=["ogc api features"])
Reader = Annotated[Principal, Depends(access("worker"))]
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _collection(request: Request, spec: LayerSpec) -> dict:
    url = f"{_base(request)}/collections/{spec.name}"
    return {"id": spec.name, "title": spec.label_zh, "itemType": "feature", "crs": [CRS84],
            "links": [{"rel": "self", "type": "application/json", "href": url},
                      {"rel": "items", "type": GEOJSON, "href": f"{url}/items"}]}


def _spec(collection_id: str) -> LayerSpec:
    spec = BY_NAME.get(collection_id)
    if spec is None or spec not in SPATIAL_LAYERS:
        raise ApiError(404, "collection_not_found", f"no collection {collection_id}; see /ogc/collections",
                       "未找到该图层")
    return spec


def _where(spec: LayerSpec) -> str:
    if spec.name == "areas":
        return "generation_id = (SELECT id FROM generations WHERE status = 'active')"
    return "TRUE"


def _props(spec: LayerSpec) -> str:
    pairs = ", ".join(f"'{f.name}', t.{f.name}" for f in spec.fields
                      if f.name not in ("parent_code",))
    return f"jsonb_build_object({pairs}) || t.properties"


@router.get("", summary="Landing page")
def landing(request: Request, _: Reader) -> dict:
    base = _base(request)
    return {"title": "gridmap", "description": "网格化服务管理 — OGC API Features",
            "links": [{"rel": "self", "type": "application/json", "href": base},
                      {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
                      {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
                      {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                       "href": str(request.base_url) + "openapi.json"}]}


@router.get("/conformance", summary="Conformance classes")
def conformance(_: Reader) -> dict:
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", summary="The layers")
def collections(request: Request, _: Reader) -> dict:
    return {"collections": [_collection(request, s) for s in SPATIAL_LAYERS],
            "links": [{"rel": "self", "type": "application/json",
                       "href": f"{_base(request)}/collections"}]}


@router.get("/collections/{collection_id}", summary="One layer")
def collection(request: Request, collection_id: str, session: SessionDep, _: Reader) -> dict:
    spec = _spec(collection_id)
    extent = session.execute(text(
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        f"(SELECT ST_Extent(geom) AS e FROM {spec.table} WHERE {_where(spec)}) q")).one()
    body = _collection(request, spec)
    if extent[0] is not None:
        body["extent"] = {"spatial": {"bbox": [list(extent)], "crs": CRS84}}
    return body


@router.get("/collections/{collection_id}/items", summary="Features, paged, with bbox")
def items(
    request: Request, collection_id: str, session: SessionDep, _: Reader,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat")] = None,
) -> Response:
    spec = _spec(collection_id)
    params: dict = {"limit": limit, "offset": offset}
    where = _where(spec)
    if bbox:
        try:
            x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
        except ValueError:
            raise ApiError(400, "invalid_bbox", "bbox must be minLon,minLat,maxLon,maxLat",
                           "bbox 参数有误") from None
        where += " AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
        params.update(x0=x0, y0=y0, x1=x1, y1=y1)
    matched = session.execute(text(f"SELECT count(*) FROM {spec.table} WHERE {where}"), params).scalar()
    rows = session.execute(text(f"""
        SELECT json_build_object('type', 'Feature', 'id', t.code,
                                 'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                                 'properties', {_props(spec)})::text
        FROM {spec.table} t WHERE {where} ORDER BY t.code LIMIT :limit OFFSET :offset
    """), params).scalars().all()
    url = f"{_base(request)}/collections/{spec.name}/items"
    query = f"&bbox={bbox}" if bbox else ""
    links = [{"rel": "self", "type": GEOJSON, "href": f"{url}?limit={limit}&offset={offset}{query}"}]
    if offset + len(rows) < matched:
        links.append({"rel": "next", "type": GEOJSON,
                      "href": f"{url}?limit={limit}&offset={offset + limit}{query}"})
    body = (f'{{"type": "FeatureCollection", "numberMatched": {matched}, '
            f'"numberReturned": {len(rows)}, "links": {json.dumps(links)}, '
            f'"features": [{",".join(rows)}]}}')
    return _raw(body)


def _raw(body: str) -> Response:
    """JSON that PostGIS already serialised: passed through, not parsed and dumped again."""
    return Response(body.encode(), media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
def item(collection_id: str, feature_id: str, session: SessionDep, _: Reader) -> Response:
    spec = _spec(collection_id)
    row = session.execute(text(f"""
        SELECT json_build_object('type', 'Feature', 'id', t.code,
                                 'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                                 'properties', {_props(spec)})::text
        FROM {spec.table} t WHERE {_where(spec)} AND t.code = :code"""), {"code": feature_id}).scalar()
    if row is None:
        raise ApiError(404, "feature_not_found", f"no feature {feature_id} in {spec.name}", "未找到该要素")
    return _raw(row)
