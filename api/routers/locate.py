"""Point → grid and responsible workers: ``GET /v1/locate`` and ``POST /v1/locate/batch``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import IsoDate, allowed
from gis.crs import parse_crs
from gis.points import PointQuery, to_point
from layers.locating import batch, bulk
from layers.locating.locators import Locator, locate_in_postgis

router = APIRouter(prefix="/v1", tags=["locate"])


async def point_query(
    lon: Annotated[float | None, Query(description="longitude (geographic CRSs)")] = None,
    lat: Annotated[float | None, Query(description="latitude (geographic CRSs)")] = None,
    x: Annotated[float | None, Query(description="easting (projected CRSs, e.g. EPSG:4548)")] = None,
    y: Annotated[float | None, Query(description="northing (projected CRSs)")] = None,
    crs: Annotated[str, Query(description="wgs84 | gcj02 | bd09 | cgcs2000 | EPSG:n")] = "wgs84",
) -> PointQuery:
    return to_point(lon, lat, x, y, crs)


def locator_for(request: Request, at: dt.date | None) -> Locator:
    return request.app.state.locators.on(at)


@router.get("/locate", summary="Which grid covers a point, and who is responsible for it")
async def locate(
    request: Request,
    _: allowed("locate"),
    p: Annotated[PointQuery, Depends(point_query)],
    at: Annotated[IsoDate | None, Query(description="answer for the boundaries of this date")] = None,
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
        g, on_boundary = await run_in_threadpool(locate_in_postgis, request.app.state.engine,
                                                 locator, p)
    else:
        g, on_boundary = locator.locate(p)
    return Response(locator.answer_json(p, g, on_boundary), media_type="application/json")


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
    _: allowed("locate"),
    crs: Annotated[str, Query(description="CRS of every row, unless a row says otherwise")] = "wgs84",
    at: Annotated[IsoDate | None, Query()] = None,
) -> StreamingResponse:
    parse_crs(crs)  # a bad CRS fails the request, not each row
    body = await request.body()  # its size is capped before this by api/guards.py
    if request.headers.get("content-type", "").split(";")[0].strip().lower() in (
            "text/csv", "application/csv"):
        # CSV takes the columnar path (layers/locating/bulk.py): arrays, not a dict per row
        text = await run_in_threadpool(bulk.csv_text, body,
                                       request.app.state.settings.max_batch_rows)
        locator = await run_in_threadpool(locator_for, request, at)
        first = await run_in_threadpool(bulk.first_chunks, locator, text, crs)
        return StreamingResponse(first, media_type=batch.BatchFormat.media_type(batch.BatchFormat.CSV))
    # parsing a large body takes seconds of CPU: off the event loop, which keeps answering
    fmt, rows = await run_in_threadpool(batch.parse_batch, body,
                                        request.headers.get("content-type", ""))
    batch.check_size(rows, request.app.state.settings.max_batch_rows)
    locator = await run_in_threadpool(locator_for, request, at)
    return StreamingResponse(batch.render_batch(fmt, rows, batch.locate_rows(locator, rows, crs)),
                             media_type=batch.BatchFormat.media_type(fmt))
