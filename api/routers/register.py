"""The register (实有人口·实有房屋·实有单位) and the monthly care visits. Routers stay thin: the
queries, scope, masking and audit are layers/register/."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from api.deps import IdempotencyKey, RowId, SessionDep, allowed, beijing, beijing_today
from gis.points import to_point
from layers.cases import photos
from layers.register import people, visits

router = APIRouter(prefix="/v1", tags=["register"])

Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default: this month")]


@router.get("/people", summary="Look a person up by name, ID number, phone number or address "
                                "(实有人口查询); scoped, masked by role, audited")
def search_people(
    request: Request, session: SessionDep, who: allowed("person.read", cookie=True),
    q: Annotated[str, Query(min_length=1, max_length=100,
                            description="a name (or its beginning), an 18-character ID number, a "
                                        "mobile number, or an address down to the room")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    answer = people.search(session, request.app.state.locators.active(),
                           request.app.state.cipher, q, principal=who,
                           today=beijing_today(request), limit=limit)
    return answer


@router.get("/dwellings/{dwelling_id}", summary="A dwelling with its residents (and landlord)")
def dwelling(request: Request, dwelling_id: RowId, session: SessionDep,
             who: allowed("person.read", cookie=True)) -> dict:
    answer = people.dwelling(session, request.app.state.locators.active(),
                             request.app.state.cipher, dwelling_id, principal=who,
                             today=beijing_today(request))
    return answer


@router.get("/buildings/{code}/dwellings", summary="A building's dwellings: unit, floor, room, use, "
                                                   "residents (counts, no names)")
def building_dwellings(code: Annotated[str, Path(max_length=40)], session: SessionDep,
                       who: allowed("person.read", cookie=True)) -> dict:
    return people.building_dwellings(session, code, principal=who)


@router.get("/organisations", summary="Organisations and places (实有单位) by name or credit code")
def organisations(request: Request, session: SessionDep,
                  who: allowed("organisation.read", cookie=True),
                  q: Annotated[str, Query(min_length=1, max_length=100)],
                  limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    answer = people.organisations(session, request.app.state.cipher, q, principal=who, limit=limit)
    return answer


class Location(BaseModel):
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)
    x: float | None = Field(default=None, allow_inf_nan=False)
    y: float | None = Field(default=None, allow_inf_nan=False)
    crs: str = Field(default="wgs84", max_length=40, description="wgs84, gcj02, bd09, EPSG:4490, …")


class VisitIn(BaseModel):
    person: str | None = Field(default=None, max_length=20, description="the person's code")
    dwelling: int | None = Field(default=None, ge=1, le=2**63 - 1, description="a rental's id")
    visited_at: dt.datetime | None = Field(default=None, description="default: now")
    note: str | None = Field(default=None, max_length=2000)
    location: Location | None = Field(default=None, description="where the worker stood")


@router.post("/visits", status_code=201, summary="Record a care visit (每月必访)",
             responses={200: {"description": "a resend with the same Idempotency-Key: the visit "
                                             "recorded the first time"}})
def record_visit(request: Request, response: Response, body: VisitIn, session: SessionDep,
                 who: allowed("visit.create", cookie=True), key: IdempotencyKey = None) -> dict:
    point = None
    if body.location is not None:
        loc = body.location
        point = to_point(loc.lon, loc.lat, loc.x, loc.y, loc.crs)
    settings = request.app.state.settings
    at = beijing(body.visited_at or request.app.state.clock())
    visit, created = visits.record(
        session, who, person=body.person, dwelling=body.dwelling, visited_at=at, point=point,
        note=body.note, key=key, flag_m=settings.visit_distance_m, now=request.app.state.clock(),
        backfill_hours=settings.visit_backfill_hours)
    if not created:
        response.status_code = 200
    return visit


@router.get("/visits/due", summary="The month's visit list of the caller's grids (or an area "
                                    "within their scope)")
def visits_due(request: Request, session: SessionDep, who: allowed("visit.read", cookie=True),
               month: Month = None,
               area: Annotated[str | None, Query(pattern=r"^\d{6,15}$")] = None,
               limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict:
    answer = visits.due(session, who, month=visits.parse_month(month, beijing_today(request)), area=area,
                        limit=limit)
    return answer


@router.get("/visits/compliance", summary="Share of the month's list visited, overdue and flagged, "
                                           "by grid, community, street or worker")
def visits_compliance(request: Request, session: SessionDep,
                      who: allowed("visit.compliance", cookie=True),
                      month: Month = None,
                      by: Literal["grid", "community", "street", "worker"] = "street",
                      area: Annotated[str | None, Query(pattern=r"^\d{6,15}$")] = None) -> dict:
    today = beijing_today(request)
    return visits.compliance(session, who, month=visits.parse_month(month, today), by=by,
                             today=today, area=area)



@router.post("/visits/{visit_id}/photos", status_code=201,
             summary="Attach a photo to a visit (JPEG, PNG, WebP; ≤ 5 MB)",
             responses={200: {"description": "the same photo was attached already: that one"}})
def visit_photo(visit_id: RowId, response: Response, session: SessionDep,
                who: allowed("visit.create", cookie=True),
                file: Annotated[UploadFile, File()]) -> dict:
    # the form is parsed before the route runs; reading its spooled file here, in the thread
    # pool, blocks no request
    answer, created = visits.add_photo(session, who, visit_id,
                                       file.file.read(photos.MAX_PHOTO_BYTES + 1),
                                       file.content_type)
    if not created:  # the same photo again (the phone page's queue resent): the first one
        response.status_code = 200
    return answer


@router.get("/visits/{visit_id}/photos/{photo_id}", summary="A visit's photo",
            response_class=Response, responses={200: {"content": {
                t: {} for t in photos.PHOTO_TYPES}, "description": "the photo"}})
def visit_photo_file(visit_id: RowId, photo_id: RowId, session: SessionDep,
                     who: allowed("visit.read")) -> Response:
    found = visits.photo(session, who, visit_id, photo_id)
    # as a case's photo: never sniffed into a page, never run as one
    return Response(found.data, media_type=found.content_type,
                    headers={"Cache-Control": "private, max-age=86400", **photos.SAFE_HEADERS})
