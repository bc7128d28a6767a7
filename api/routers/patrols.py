"""Patrols (每日巡查): a worker's track in, what it covered out; coverage of an area over days.
The cleaning and the measures are layers/field/patrols.py."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import SessionDep, allowed
from layers.field import patrols

router = APIRouter(prefix="/v1/patrols", tags=["field work"])


@router.post("", status_code=201, summary="Store a patrol track (GeoJSON LineString with times, "
                                          "or a GPX file) and answer what it covered",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": {"type": "object", "description":
                     "a GeoJSON Feature (LineString geometry, properties {times, crs?, mode?}) "
                     "or {track, times, mode?, crs?, key?}", "properties": {
                     "type": {"type": "string"}, "geometry": {"type": "object"},
                     "properties": {"type": "object"},
                     "track": {"type": "object"}, "times": {"type": "array"},
                     "mode": {"type": "string", "enum": list(patrols.MODES)},
                     "crs": {"type": "string"}, "key": {"type": "string"}}}},
                 "application/gpx+xml": {"schema": {"type": "string"}}}}})
async def record(request: Request, response: Response, session: SessionDep,
                 who: allowed("patrol.create", cookie=True)) -> dict:
    body = await request.body()  # capped by api/guards.py
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    settings = request.app.state.settings
    if ctype in ("application/gpx+xml", "application/xml", "text/xml"):
        lon, lat, t = await run_in_threadpool(patrols.from_gpx, body)
        mode, key = request.query_params.get("mode", "walk"), request.headers.get("idempotency-key")
    else:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise patrols.BadTrack("send JSON {track, times, mode?, crs?, key?} or a GPX file "
                                   "(Content-Type: application/gpx+xml)", zh="请求格式有误") from None
        if not isinstance(data, dict):
            raise patrols.BadTrack("send a JSON object {track, times}", zh="请求格式有误")
        if data.get("type") == "Feature":  # a GeoJSON Feature: the times are its properties
            props = data.get("properties") if isinstance(data.get("properties"), dict) else {}
            data = {**props, "track": data.get("geometry")}
        lon, lat, t = await run_in_threadpool(patrols.from_geojson, data.get("track"),
                                              data.get("times") or [], str(data.get("crs") or "wgs84"))
        mode = str(data.get("mode") or "walk")
        key = data.get("key") or request.headers.get("idempotency-key")
        key = str(key)[:80] if key else None

    def work() -> tuple[dict, bool]:
        answer, created = patrols.record(session, who, lon, lat, t, mode=mode, key=key,
                                         reach_m=settings.patrol_reach_m,
                                         max_speed=settings.patrol_max_speed_ms)
        session.commit()
        return answer, created

    answer, created = await run_in_threadpool(work)
    if not created:
        response.status_code = 200
    return answer


@router.get("/coverage", summary="What the patrols of the last days covered of an area's roads "
                                 "and back alleys, and the parts nobody walked (GeoJSON)")
def coverage(request: Request, session: SessionDep, who: allowed("patrol.read"),
             area: Annotated[str | None, Query(pattern=r"^\d{6,15}$")] = None,
             days: Annotated[int, Query(ge=1, le=366)] = 7) -> dict:
    return patrols.coverage(session, who, area=area, days=days, now=request.app.state.clock(),
                            reach_m=request.app.state.settings.patrol_reach_m)
