"""Patrols (每日巡查): a worker's track in, what it covered out; coverage of an area over days.
The cleaning and the measures are layers/field/patrols.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from api.deps import IdempotencyKey, SessionDep, allowed
from layers.field import patrols

router = APIRouter(prefix="/v1/patrols", tags=["field work"])


Time = Annotated[str, Field(max_length=40, description="ISO 8601; without a zone: Beijing time")]


class LineStringIn(BaseModel):
    type: Literal["LineString"]
    coordinates: list[Annotated[list[float], Field(min_length=2, max_length=3)]] = Field(
        min_length=2, description="[lon, lat] per point (in ``crs``)")


class TrackIn(BaseModel):
    """A track with one time per point."""

    track: LineStringIn
    times: list[Time]
    mode: Literal[patrols.MODES] = "walk"  # type: ignore[valid-type]
    crs: str = Field(default="wgs84", max_length=40)


class TrackProperties(BaseModel):
    times: list[Time]
    mode: Literal[patrols.MODES] = "walk"  # type: ignore[valid-type]
    crs: str = Field(default="wgs84", max_length=40)


class TrackFeatureIn(BaseModel):
    """The same as a GeoJSON Feature: the times (and mode, crs) are its properties."""

    type: Literal["Feature"]
    geometry: LineStringIn
    properties: TrackProperties


_PATROL_IN = TypeAdapter(TrackFeatureIn | TrackIn)


def _inlined(schema: dict) -> dict:
    """A JSON schema with its ``$defs`` put in place (the body is read raw — it may be GPX — so
    FastAPI does not collect these models into the document's components)."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)


@dataclass(frozen=True)
class Track:
    """A sent track, cleaned: longitudes, latitudes, times and how it was travelled."""

    lon: np.ndarray
    lat: np.ndarray
    t: np.ndarray
    mode: str


async def sent_track(request: Request,
                     mode: Annotated[Literal[patrols.MODES], Query(  # type: ignore[valid-type]
                         description="of a GPX track")] = "walk") -> Track:
    """The track of the body, GeoJSON or GPX — read here, on the event loop (it is capped by
    api/guards.py), and parsed in the thread pool, so the route itself is a plain sync one that
    never holds the loop while it writes."""
    body = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limits = request.app.state.limits
    if ctype in ("application/gpx+xml", "application/xml", "text/xml"):
        return Track(*await run_in_threadpool(patrols.from_gpx, body, limits), mode=mode)
    try:
        sent = _PATROL_IN.validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    if isinstance(sent, TrackFeatureIn):
        track, props = sent.geometry, sent.properties
    else:
        track, props = sent.track, sent
    return Track(*await run_in_threadpool(patrols.from_geojson, track.coordinates, props.times,
                                          props.crs, limits), mode=props.mode)


@router.post("", status_code=201, summary="Store a patrol track (GeoJSON LineString with times, "
                                          "or a GPX file) and answer what it covered",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": _inlined(_PATROL_IN.json_schema())},
                 "application/gpx+xml": {"schema": {"type": "string"}}}}})
def record(request: Request, response: Response, session: SessionDep,
           who: allowed("patrol.create", cookie=True),
           track: Annotated[Track, Depends(sent_track)], key: IdempotencyKey = None) -> dict:
    settings = request.app.state.settings
    answer, created = patrols.record(session, who, track.lon, track.lat, track.t,
                                     mode=track.mode, key=key, reach_m=settings.patrol_reach_m,
                                     max_speed=settings.patrol_max_speed_ms)
    if not created:
        response.status_code = 200
    return answer


@router.get("/coverage", summary="What the patrols of the last days covered of an area's roads "
                                 "and back alleys, and the parts nobody walked (GeoJSON)")
def coverage(request: Request, session: SessionDep, who: allowed("patrol.read"),
             area: Annotated[str | None, Query(pattern=r"^\d{6,15}$")] = None,
             days: Annotated[int, Query(ge=1, le=366)] = 7) -> dict:
    return patrols.coverage(session, who, area=area, days=days, now=request.app.state.clock(),
                            reach_m=request.app.state.settings.patrol_reach_m,
                            limits=request.app.state.limits)
