"""Cases: intake (patrol, resident, hotline), camera-AI alerts, the workflow, photos, the cameras
that see a case, and the routing tables. Intake is layers/cases/intake.py (shared with Open311);
the workflow is layers/cases/workflow.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from api.deps import MAX_ROW_ID, RowId, SessionDep, active_locator, allowed, beijing, now
from gis.points import to_point
from layers.access import audit
from layers.cases import intake, photos, responses, routing, workflow
from layers.storage.models import CaseStatus

router = APIRouter(prefix="/v1", tags=["cases"])
# the worker's phone page (/m/) reads and reports with its sign-in cookie (writes: + CSRF token)
CaseReader = allowed("case.read", cookie=True)
# the cameras that see a case, the loudspeakers that reach it: the dispatcher's (the camera layout)
DeviceReader = allowed("case.devices", cookie=True)
CaseId = RowId


locator = active_locator


class Reporter(BaseModel):
    """A resident who reported by phone or in person (kept for call-backs, never shown publicly)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=100)


class CaseIn(BaseModel):
    source: Literal["patrol", "resident", "hotline"] = Field(description="how the case came in")
    category: str = Field(max_length=20, description="category code, see GET /v1/routing")
    description: str | None = Field(default=None, max_length=2000)
    lon: float | None = None
    lat: float | None = None
    x: float | None = None
    y: float | None = None
    crs: str = Field(default="wgs84", max_length=40)
    address: str | None = Field(default=None, max_length=300,
                                description="used to find the place when no coordinates are sent")
    building_code: str | None = Field(default=None, max_length=40)
    reporter: Reporter | None = Field(default=None, description="a resident reporter")


def _created_response(session, created: workflow.Created) -> JSONResponse:
    body = workflow.to_json(session, created.case)
    if created.duplicate_of is not None:
        body["existing_case"] = workflow.to_json(session, created.duplicate_of)
    return JSONResponse(body, status_code=201 if created.new else 200)


@router.post("/cases", status_code=201, summary="Report a case (patrol, resident or hotline)")
def create_case(
    request: Request, body: CaseIn, session: SessionDep, who: allowed("case.create", cookie=True),
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> JSONResponse:
    created = intake.intake(
        session, locator(request), source=body.source, category_code=body.category,
        where=intake.Where(lon=body.lon, lat=body.lat, x=body.x, y=body.y, crs=body.crs,
                           address=body.address),
        by=who, now=now(request), description=body.description,
        building_code=body.building_code,
        reporter=body.reporter.model_dump(exclude_none=True) if body.reporter else None,
        idempotency_key=idempotency_key)
    return _created_response(session, created)


class AlertIn(BaseModel):
    """A camera-AI alert; the names video platforms commonly use are accepted too."""

    camera: str = Field(max_length=40, description="camera code",
                        validation_alias=AliasChoices("camera", "camera_code", "camera_id"))
    type: str = Field(max_length=40, description="alert type, e.g. 占道经营, 店外经营, 扬尘, 油烟, 乱堆物料",
                      validation_alias=AliasChoices("type", "alert_type", "event_type"))
    time: dt.datetime | None = Field(default=None, validation_alias=AliasChoices(
        "time", "alert_time", "detected_at", "timestamp"))
    snapshot_url: str | None = Field(default=None, max_length=500, validation_alias=AliasChoices(
        "snapshot_url", "snapshot", "image_url"))


@router.post("/alerts", status_code=201, summary="A camera-AI alert becomes a case at the place "
                                                  "the camera looks at")
def camera_alert(
    request: Request, body: AlertIn, session: SessionDep, who: allowed("alert.create"),
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> JSONResponse:
    created = intake.alert_intake(
        session, locator(request),
        intake.Alert(camera=body.camera, type=body.type, time=body.time,
                     snapshot_url=body.snapshot_url),
        by=who, now=now(request), idempotency_key=idempotency_key)
    return _created_response(session, created)


@router.get("/cases/{case_id}", summary="A case with its history")
def get_case(case_id: CaseId, session: SessionDep, who: CaseReader) -> dict:
    return workflow.to_json(session, workflow.get(session, case_id, scope=who.scope_code),
                            events=True)


@router.get("/cases", summary="Cases, newest first")
def list_cases(
    session: SessionDep, who: CaseReader,
    status: CaseStatus | None = None,
    grid: Annotated[str | None, Query(pattern=r"^\d{6,15}$", description="area code prefix")] = None,
    category: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict]:
    found = workflow.newest(session, scope=who.scope_code, status=status, grid=grid,
                            category=category, limit=limit)
    return [workflow.to_json(session, c) for c in found]


class TransitionIn(BaseModel):
    action: str = Field(max_length=20,
                        description=", ".join(f"{k} ({v.zh})" for k, v in workflow.ACTIONS.items()))
    note: str | None = Field(default=None, max_length=2000)
    photo_ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(default_factory=list,
                                                                          max_length=20)
    assignee: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=20)
    lon: float | None = None
    lat: float | None = None
    crs: str = Field(default="wgs84", max_length=40)
    rating: int | None = Field(default=None, ge=1, le=5)


@router.post("/cases/{case_id}/transitions", summary="Move a case through the workflow "
             "(with an Idempotency-Key a resend answers the case and acts once)")
def transition_case(
    request: Request, case_id: CaseId, body: TransitionIn, session: SessionDep,
    who: CaseReader,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict:
    case = workflow.get(session, case_id, scope=who.scope_code)
    lon = lat = None
    if body.lon is not None and body.lat is not None:
        point = to_point(body.lon, body.lat, None, None, body.crs)
        lon, lat = point.lon, point.lat
    workflow.act(session, locator(request), case, body.action, by=who, now=now(request),
                 note=body.note, photo_ids=body.photo_ids, category_code=body.category, lon=lon,
                 lat=lat, assignee=body.assignee, rating=body.rating,
                 idempotency_key=idempotency_key)
    return workflow.to_json(session, case, events=True)


@router.post("/cases/{case_id}/photos", status_code=201, summary="Attach a photo (JPEG, PNG, WebP; ≤ 5 MB)",
             responses={200: {"description": "the same photo was attached already: that one"}})
def upload_photo(case_id: CaseId, session: SessionDep, response: Response,
                 who: allowed("case.photo", cookie=True),
                 file: Annotated[UploadFile, File()]) -> dict:
    case = workflow.get(session, case_id, scope=who.scope_code)
    # the form is parsed before the route runs: its spooled file is read in the thread pool
    photo, created = photos.attach(session, case, file.file.read(photos.MAX_PHOTO_BYTES + 1),
                                   file.content_type, by=who)
    if not created:  # the same photo again (a resent queue): the one stored the first time
        response.status_code = 200
    return photos.as_json(photo)


@router.get("/cases/{case_id}/photos/{photo_id}", summary="A case photo", response_class=Response,
            responses={200: {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                         for t in photos.PHOTO_TYPES}, "description": "the photo"}})
def get_photo(case_id: CaseId, photo_id: RowId, session: SessionDep, who: CaseReader) -> Response:
    photo = photos.get(session, workflow.get(session, case_id, scope=who.scope_code), photo_id)
    return Response(photo.data, media_type=photo.content_type, headers=photos.SAFE_HEADERS)


@router.get("/cases/{case_id}/cameras", summary="Cameras whose view covers the case's place")
def case_cameras(case_id: CaseId, session: SessionDep, who: DeviceReader) -> list[dict]:
    return workflow.cameras_seeing(session, workflow.get(session, case_id, scope=who.scope_code))


@router.get("/cases/{case_id}/responders", summary="For an alert: the loudspeakers whose range "
                                                  "covers its place (nearest first) and the cameras "
                                                  "that see it")
def case_responders(case_id: CaseId, session: SessionDep, who: DeviceReader) -> dict:
    return responses.responders(session, workflow.get(session, case_id, scope=who.scope_code))


@router.get("/cases/{case_id}/loudspeakers", summary="For an alert: the loudspeakers (喊话设备) "
                                                     "whose range covers its place, nearest first")
def case_loudspeakers(case_id: CaseId, session: SessionDep, who: DeviceReader) -> list[dict]:
    case = workflow.get(session, case_id, scope=who.scope_code)
    return responses.responders(session, case)["loudspeakers"]


class ResponseIn(BaseModel):
    device: str = Field(max_length=40, description="the loudspeaker's code")
    outcome: Literal["劝导驱离", "劝导未离开", "现场无人", "设备故障"]
    place_clear: bool = Field(default=False, description="the next frame shows the place clear")
    note: str | None = Field(default=None, max_length=2000)
    at: dt.datetime | None = Field(default=None, description="default: now")


@router.post("/cases/{case_id}/responses", status_code=201,
             summary="Record a remote response (喊话) to an alert; 劝导驱离 with the place clear "
                     "resolves the case")
def case_response(request: Request, case_id: CaseId, body: ResponseIn, session: SessionDep,
                  who: allowed("alert.respond", cookie=True),
                  idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> dict:
    case = workflow.get(session, case_id, scope=who.scope_code)
    at = beijing(body.at or now(request))
    answer = responses.record(session, locator(request), case, device=body.device,
                              outcome=body.outcome, place_clear=body.place_clear, note=body.note,
                              at=at, by=who, idempotency_key=idempotency_key)
    return answer


# -- routing tables --------------------------------------------------------------------------------
@router.get("/routing", tags=["routing"], summary="The routing tables in force",
            responses={200: {"content": {"application/json": {"schema": {"type": "object"}},
                                         "text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON, or CSV with format=csv"}})
def get_routing(session: SessionDep, who: allowed("routing.read", cookie=True),
                format: Literal["json", "csv"] = "json") -> Response:
    version, categories, departments = routing.load(session)
    if format == "csv":
        return PlainTextResponse(routing.to_csv(categories), media_type="text/csv")
    return JSONResponse(routing.as_json(version, categories, departments))


class RoutingIn(BaseModel):
    departments: dict[Annotated[str, Field(max_length=20)], Annotated[str, Field(max_length=100)]]
    categories: list[dict] = Field(max_length=1000)
    note: str | None = Field(default=None, max_length=500)


@router.put("/routing", tags=["routing"], summary="Replace the routing tables (a new version; "
            "the page /desk/routing sends it with its CSRF token)")
def put_routing(body: RoutingIn, session: SessionDep,
                who: allowed("routing.write", cookie=True)) -> dict:
    version = routing.save_version(session, routing.rows_from_json(body.categories),
                                   body.departments, by=who.name, note=body.note or "API")
    audit.record(session, who, "routing.write", f"version {version}")
    return {"version": version}
