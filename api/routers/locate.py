"""Point → grid and responsible workers: ``GET /v1/locate`` and ``POST /v1/locate/batch``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import text

from api.batch import BatchFormat, parse_batch, render_batch
from api.deps import PublicAccess
from api.errors import ApiError
from gis.crs import (
    CoordinateError,
    Crs,
    check_in_area_of_use,
    check_lonlat,
    parse_crs,
    transform_xy,
)
from layers.locating.locators import Locator

router = APIRouter(prefix="/v1", tags=["locate"])
MAX_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class PointQuery:
    """A validated input point: WGS84 lon/lat plus what the caller sent."""

    lon: float
    lat: float
    crs: Crs
    input: dict


async def point_query(
    lon: Annotated[float | None, Query(description="longitude (geographic CRSs)")] = None,
    lat: Annotated[float | None, Query(description="latitude (geographic CRSs)")] = None,
    x: Annotated[float | None, Query(description="easting (projected CRSs, e.g. EPSG:4548)")] = None,
    y: Annotated[float | None, Query(description="northing (projected CRSs)")] = None,
    crs: Annotated[str, Query(description="wgs84 | gcj02 | bd09 | cgcs2000 | EPSG:n")] = "wgs84",
) -> PointQuery:
    return to_point(lon, lat, x, y, crs)


def to_point(lon, lat, x, y, crs: str) -> PointQuery:
    """Validate one input point and convert it to WGS84 (raises CoordinateError/UnknownCRSError)."""
    parsed = parse_crs(crs)
    if parsed.is_geographic:
        if lon is None or lat is None:
            if x is not None and y is not None:
                lon, lat = x, y
            else:
                raise CoordinateError(f"{parsed} is geographic: send lon and lat")
        check_lonlat(lon, lat)
        wx, wy = transform_xy(lon, lat, parsed, "wgs84")
        sent = {"lon": lon, "lat": lat, "crs": str(parsed)}
    else:
        if x is None or y is None:
            raise CoordinateError(f"{parsed} is projected: send x (easting) and y (northing)")
        if not (np.isfinite(x) and np.isfinite(y)):
            raise CoordinateError("x and y must be finite numbers")
        wx, wy = transform_xy(x, y, parsed, "wgs84")
        sent = {"x": x, "y": y, "crs": str(parsed)}
        if not (np.isfinite(wx) and np.isfinite(wy)):
            raise CoordinateError(f"x={x}, y={y} lie outside the area where {parsed} is defined")
        check_lonlat(float(wx), float(wy))
        check_in_area_of_use(parsed, float(wx), float(wy))
    return PointQuery(float(wx), float(wy), parsed, sent)


def _point_json(p: PointQuery) -> dict:
    return {"lon": round(p.lon, 9), "lat": round(p.lat, 9), "crs": "wgs84"}


def locator_for(request: Request, at: dt.date | None) -> Locator:
    return request.app.state.locators.on(at)


def _postgis_grid(request: Request, locator: Locator, p: PointQuery) -> tuple[int, bool]:
    """The comparator: one PostGIS ST_Covers query per request, same tie-break rule."""
    with request.app.state.engine.connect() as conn:
        row = conn.execute(text("""
            SELECT code, NOT ST_Contains(geom, pt) AS on_boundary FROM areas,
                   LATERAL (SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4326) AS pt) q
            WHERE generation_id = :g AND level = 'grid' AND ST_Covers(geom, pt)
            ORDER BY code LIMIT 1
        """), {"x": p.lon, "y": p.lat, "g": locator.generation["id"]}).first()
    if row is None:
        return -1, False
    return int(np.searchsorted(locator.index.codes.astype(str), row.code)), bool(row.on_boundary)


def outside_error(locator: Locator, p: PointQuery) -> ApiError:
    nearest = locator.nearest_grid(p.lon, p.lat)
    return ApiError(404, "outside_grids",
                    "the point is not in any grid" + (
                        f"; the nearest is {nearest['grid']['code']} at {nearest['distance_m']} m"
                        if nearest else ""),
                    "该位置不在任何网格内", nearest=nearest, point=_point_json(p))


@router.get("/locate", summary="Which grid covers a point, and who is responsible for it")
async def locate(
    request: Request,
    _: PublicAccess,
    p: Annotated[PointQuery, Depends(point_query)],
    at: Annotated[dt.date | None, Query(description="answer for the boundaries of this date")] = None,
    engine: Annotated[Literal["memory", "postgis"],
                      Query(description="memory (default) or postgis: one ST_Covers query, for "
                                        "comparison")] = "memory",
) -> dict:
    # The in-memory path never blocks (microseconds of CPU), so it runs on the event loop;
    # anything that may touch the database goes to the thread pool.
    if at is None and request.app.state.locators.ready:
        locator = request.app.state.locators.active()
    else:
        locator = await run_in_threadpool(locator_for, request, at)
    if engine == "postgis":
        g, on_boundary = await run_in_threadpool(_postgis_grid, request, locator, p)
    else:
        g, on_boundary = locator.index.locate_one(p.lon, p.lat)
    if g < 0:
        raise outside_error(locator, p)
    return JSONResponse({**locator.grid_answer(g, on_boundary),
                         "nearest_reception_room": locator.nearest_room(p.lon, p.lat),
                         "point": _point_json(p), "input": p.input})


@router.post(
    "/locate/batch",
    summary="Locate many points: JSON array, GeoJSON, CSV or NDJSON, streamed back in order",
    openapi_extra={"requestBody": {"content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        "application/geo+json": {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    }}},
)
async def locate_batch(
    request: Request,
    _: PublicAccess,
    crs: Annotated[str, Query(description="CRS of every row, unless a row says otherwise")] = "wgs84",
    at: Annotated[dt.date | None, Query()] = None,
) -> StreamingResponse:
    parse_crs(crs)  # a bad CRS fails the request, not each row
    body = await request.body()
    fmt, rows = parse_batch(body, request.headers.get("content-type", ""))
    if len(rows) > MAX_BATCH_ROWS:
        raise ApiError(413, "batch_too_large", f"{len(rows):,} rows; send at most "
                       f"{MAX_BATCH_ROWS:,} per request", "单次批量请求的记录过多")
    locator = await run_in_threadpool(locator_for, request, at)
    return StreamingResponse(render_batch(fmt, rows, locate_rows(locator, rows, crs)),
                             media_type=BatchFormat.media_type(fmt))


def locate_rows(locator: Locator, rows: list[dict], crs: str, chunk: int = 20_000):
    """Yield one result per input row, in order: the locate answer, or {"error": …}."""
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        points: list[PointQuery | None] = []
        errors: list[str | None] = []
        for row in part:
            if "error" in row:
                points.append(None)
                errors.append(row["error"])
                continue
            try:
                points.append(to_point(row.get("lon"), row.get("lat"), row.get("x"), row.get("y"),
                                       row.get("crs") or crs))
                errors.append(None)
            except ValueError as exc:
                points.append(None)
                errors.append(str(exc))
        ok = [i for i, pt in enumerate(points) if pt is not None]
        lon = np.array([points[i].lon for i in ok])
        lat = np.array([points[i].lat for i in ok])
        found = locator.index.locate(lon, lat)
        answers: list[dict] = [{} for _ in part]
        for k, i in enumerate(ok):
            g = int(found.grid[k])
            if g < 0:
                answers[i] = {"error": "not in any grid", "point": _point_json(points[i])}
            else:
                answers[i] = {**locator.grid_answer(g, bool(found.on_boundary[k])),
                              "point": _point_json(points[i])}
        for i, err in enumerate(errors):
            if err is not None:
                answers[i] = {"error": err}
        yield from answers
