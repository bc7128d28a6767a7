"""OGC API – Features (Part 1 core, GeoJSON) over every spatial layer in the registry, readable
by GDAL's OAPIF driver and QGIS. One declaration in layers/registry.py → one collection here; the
queries are layers/maps/features.py."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.deps import ReadSessionDep, allowed
from layers.maps import features
from layers.registry import LayerSpec

router = APIRouter(prefix="/ogc", tags=["ogc api features"])
Reader = allowed("ogc.read")
CollectionId = Annotated[str, Path(max_length=40)]
GEOJSON = "application/geo+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    # /ogc/api is an OpenAPI 3.0 document (the app's own /openapi.json is 3.1)
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
CRS84 = features.CRS84


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _collection(request: Request, spec: LayerSpec, extent: dict | None) -> dict:
    url = f"{_base(request)}/collections/{spec.name}"
    body = {"id": spec.name, "title": spec.label_zh, "itemType": "feature",
            "crs": list(features.CRS_URI), "storageCrs": CRS84,
            "links": [{"rel": "self", "type": "application/json", "href": url},
                      {"rel": "items", "type": GEOJSON, "href": f"{url}/items"},
                      {"rel": QUERYABLES_REL, "type": SCHEMA, "href": f"{url}/queryables"}]}
    if extent is not None:
        body["extent"] = extent
    return body


@router.get("", summary="Landing page")
def landing(request: Request, _: Reader) -> dict:
    base = _base(request)
    return {"title": "gridmap", "description": "网格化服务管理 — OGC API Features",
            "links": [{"rel": "self", "type": "application/json", "href": base},
                      {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
                      {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
                      {"rel": "service-desc", "type": OPENAPI_30, "href": f"{base}/api"},
                      {"rel": "service-doc", "type": "text/html",
                       "href": str(request.base_url) + "docs"}]}


@router.get("/conformance", summary="Conformance classes")
def conformance(_: Reader) -> dict:
    return {"conformsTo": CONFORMANCE}


@router.get("/api", summary="This OGC API's description (OpenAPI 3.0): every collection's items "
            "path with its filterable properties, as GDAL and QGIS look them up",
            response_class=JSONResponse,
            responses={200: {"content": {OPENAPI_30: {"schema": {"type": "object"}}}}})
def api_description(request: Request, who: Reader) -> JSONResponse:
    return JSONResponse(ogc_openapi(_base(request), features.readable(who), request.app.version),
                        media_type=OPENAPI_30)


@router.get("/collections", summary="The layers, with their extents")
def collections(request: Request, session: ReadSessionDep, who: Reader) -> dict:
    return {"collections": [_collection(request, s, features.extent(session, s, who))
                            for s in features.readable(who)],
            "links": [{"rel": "self", "type": "application/json",
                       "href": f"{_base(request)}/collections"}]}


@router.get("/collections/{collection_id}", summary="One layer")
def collection(request: Request, collection_id: CollectionId, session: ReadSessionDep,
               who: Reader) -> dict:
    spec = features.collection(collection_id, who)
    return _collection(request, spec, features.extent(session, spec, who))


@router.get("/collections/{collection_id}/queryables", summary="The properties /items filters "
            "on (OGC API Features Part 3)", response_class=Response,
            responses={200: {"content": {SCHEMA: {"schema": {"type": "object"}}},
                             "description": "a JSON Schema"}})
def queryables(request: Request, collection_id: CollectionId, who: Reader) -> JSONResponse:
    spec = features.collection(collection_id, who)
    body = {"$id": f"{_base(request)}/collections/{spec.name}/queryables",
            **features.queryables(spec)}
    return JSONResponse(body, media_type=SCHEMA)


GEOJSON_RESPONSE = {200: {"content": {GEOJSON: {"schema": {"type": "object"}}},
                          "description": "GeoJSON"}}


MAX_LIMIT = 10_000
ITEMS_PARAMETERS = {"limit", "offset", "after", "bbox", "bbox-crs", "crs", "datetime", "f"}


@router.get("/collections/{collection_id}/items", summary="Features, paged, with bbox",
            response_class=Response, responses=GEOJSON_RESPONSE)
async def items(
    request: Request, collection_id: CollectionId, who: Reader,
    limit: Annotated[int, Query(ge=1, json_schema_extra={"maximum": MAX_LIMIT},
                                description=f"page size; above {MAX_LIMIT:,} the server "
                                            f"answers {MAX_LIMIT:,} (and a next link)")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    after: Annotated[str | None, Query(max_length=100, description="continue after this "
                                       "feature id (the next link carries it)")] = None,
    bbox: Annotated[str | None, Query(max_length=200,
                                      description="minLon,minLat,maxLon,maxLat (in bbox-crs)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=100,
                                          description="CRS of bbox (Part 2); default CRS84")] = None,
    crs: Annotated[str | None, Query(max_length=100, description="CRS of the answer (Part 2): "
                                     "CRS84, EPSG:4326, EPSG:4490 or EPSG:4548 URIs")] = None,
    datetime: Annotated[str | None, Query(max_length=40, description="an instant: versioned "
                                          "layers answer with the boundaries in force then")] = None,
) -> Response:
    spec = features.collection(collection_id, who)
    names = features.filterable(spec)
    unknown = sorted(set(request.query_params) - ITEMS_PARAMETERS - set(names))
    if unknown:  # OGC API Features: an unknown parameter is a 400, not silently ignored
        raise features.UnknownParameter(
            f"unknown query parameter(s) {', '.join(unknown)}; this collection takes "
            f"{', '.join(sorted(ITEMS_PARAMETERS | set(names)))}", zh="不支持的查询参数")
    limit = min(limit, MAX_LIMIT)
    out_uri, srid, lat_first = features.output_crs(crs)
    _bbox_uri, bbox_srid, bbox_lat_first = features.output_crs(bbox_crs)
    box = features.parse_bbox(bbox) if bbox else None
    if box is not None and bbox_lat_first:  # minLat,minLon,maxLat,maxLon as EPSG orders them
        box = (box[1], box[0], box[3], box[2])
    equals = {n: request.query_params[n] for n in names if n in request.query_params}
    on_day = features.parse_datetime(datetime) if datetime else None

    def read() -> features.Page:  # one trip to the thread pool: GDAL pages thousands of times
        with request.app.state.read_sessionmaker() as session:
            return features.page(session, spec, who, limit=limit, offset=offset, after=after,
                                 bbox=box, bbox_srid=bbox_srid, equals=equals, srid=srid,
                                 lat_first=lat_first, on_day=on_day)

    found = await run_in_threadpool(read)
    kept = [(k, v) for k, v in request.query_params.items()
            if k not in ("limit", "offset", "after")]
    return _raw(items_body(_base(request), spec, found, limit=limit, after=after, offset=offset,
                           kept=kept), out_uri)


def items_body(base: str, spec: LayerSpec, found: features.Page, *, limit: int,
               after: str | None, offset: int, kept: list[tuple[str, str]]) -> str:
    """The FeatureCollection of a page: the features as PostGIS wrote them, links to this page
    and the next (keyset), the other query parameters carried along."""
    url = f"{base}/collections/{spec.name}/items"
    query = "".join(f"&{quote(k)}={quote(v)}" for k, v in kept)
    here = f"&after={quote(after)}" if after else (f"&offset={offset}" if offset else "")
    links = [{"rel": "self", "type": GEOJSON, "href": f"{url}?limit={limit}{here}{query}"}]
    if found.next_after is not None:
        links.append({"rel": "next", "type": GEOJSON,
                      "href": f"{url}?limit={limit}&after={quote(found.next_after)}{query}"})
    matched = "" if found.matched is None else f'"numberMatched": {found.matched}, '
    return (f'{{"type": "FeatureCollection", {matched}'
            f'"numberReturned": {len(found.features)}, "links": {json.dumps(links)}, '
            f'"features": [{",".join(found.features)}]}}')


def _raw(body: str, crs: str = CRS84) -> Response:
    """JSON that PostGIS already serialised: passed through, not parsed and dumped again; the
    CRS of its coordinates in ``Content-Crs`` (Part 2)."""
    return Response(body.encode(), media_type=GEOJSON, headers={"Content-Crs": f"<{crs}>"})


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature",
            response_class=Response, responses=GEOJSON_RESPONSE)
def item(collection_id: CollectionId, feature_id: Annotated[str, Path(max_length=100)],
         session: ReadSessionDep, who: Reader,
         crs: Annotated[str | None, Query(max_length=100, description="CRS of the answer")] = None,
         datetime: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    out_uri, srid, lat_first = features.output_crs(crs)
    return _raw(features.one(session, features.collection(collection_id, who), who, feature_id,
                             srid=srid, lat_first=lat_first,
                             on_day=features.parse_datetime(datetime) if datetime else None),
                out_uri)


def ogc_openapi(base: str, specs: list[LayerSpec], version: str) -> dict:
    """The OGC API's own description, an OpenAPI 3.0 document rooted at ``/ogc``: one items path
    per collection, each declaring its property filters (GDAL's OAPIF driver sends a ``-where``
    equality to the server only for a parameter declared on that path; otherwise it downloads
    everything and filters itself) and ``limit``'s maximum (GDAL 3.8+ pages by it)."""
    def query(name: str, schema: dict, description: str = "") -> dict:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}

    common = [
        query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
              "page size"),
        query("bbox", {"type": "array", "items": {"type": "number"}, "minItems": 4,
                       "maxItems": 4}, "minLon,minLat,maxLon,maxLat (in bbox-crs)"),
        query("bbox-crs", {"type": "string", "enum": list(features.CRS_URI)}),
        query("crs", {"type": "string", "enum": list(features.CRS_URI)}),
        query("datetime", {"type": "string"}, "an instant: versioned layers answer with the "
                                              "boundaries in force then"),
        query("offset", {"type": "integer", "minimum": 0}),
        query("after", {"type": "string"}, "continue after this feature id (next links)"),
    ]
    ok = {"200": {"description": "OK"}}
    paths: dict = {"/": {"get": {"summary": "Landing page", "responses": ok}},
                   "/api": {"get": {"summary": "This document", "responses": ok}},
                   "/conformance": {"get": {"summary": "Conformance classes", "responses": ok}},
                   "/collections": {"get": {"summary": "The layers", "responses": ok}}}
    for spec in specs:
        props = features.queryables(spec)["properties"]
        at = f"/collections/{spec.name}"
        paths[at] = {"get": {"summary": spec.label_zh, "responses": ok}}
        paths[f"{at}/queryables"] = {"get": {"summary": "Queryables", "responses": ok}}
        paths[f"{at}/items"] = {"get": {
            "summary": f"{spec.label_zh}: features", "responses": ok,
            "parameters": [*common, *(query(name, {"type": p["type"]}, "equal to")
                                      for name, p in props.items())]}}
        paths[f"{at}/items/{{featureId}}"] = {"get": {
            "summary": "One feature", "responses": ok,
            "parameters": [{"name": "featureId", "in": "path", "required": True,
                            "schema": {"type": "string"}}]}}
    return {"openapi": "3.0.3",
            "info": {"title": "gridmap — OGC API Features", "version": version},
            "servers": [{"url": base}], "paths": paths,
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}]}
