"""Cases: intake (patrol, resident, hotline), camera-AI alerts, the workflow, photos, the cameras
that see a case, and the routing tables. Intake is layers/cases/intake.py (shared with Open311);
the workflow is layers/cases/workflow.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import AliasChoices, BaseModel, Field

from api.deps import SessionDep
from api.security import Principal, access
from gis.points import to_point
from layers.access.policy import require_transition
from layers.cases import intake, photos, routing, workflow

router = APIRouter(prefix="/v1", tags=["cases"])
WorkerUser = Annotated[Principal, Depends(access("worker"))]
DispatcherUser = Annotated[Principal, Depends(access("dispatcher"))]
AdminUser = Annotated[Principal, Depends(access("admin"))]


def now(request: Request) -> dt.datetime:
    """The app's clock (tests replace ``app.state.clock`` to move time)."""
    return request.app.state.clock()


def locator(request: Request):
    return request.app.state.locators.active()


class CaseIn(BaseModel):
    source: Literal["patrol", "resident", "hotline"] = Field(description="how the case came in")
    category: str = Field(description="category code, see GET /v1/routing")
    description: str | None = Field(default=None, max_length=2000)
    lon: float | None = None
    lat: float | None = None
    x: float | None = None
    y: float | None = None
    crs: str = "wgs84"
    address: str | None = Field(default=None, max_length=300,
                                description="used to find the place when no coordinates are sent")
    building_code: str | None = None
    reporter: dict | None = Field(default=None, description="name/phone of a resident reporter")


def _created_response(session, created: workflow.Created) -> JSONResponse:
    body = workflow.to_json(session, created.case)
    if created.duplicate_of is not None:
        body["existing_case"] = workflow.to_json(session, created.duplicate_of)
    return JSONResponse(body, status_code=201 if created.new else 200)


@router.post("/cases", status_code=201, summary="Report a case (patrol, resident or hotline)")
def create_case(
    request: Request, body: CaseIn, session: SessionDep, who: WorkerUser,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> JSONResponse:
    created = intake.intake(
        session, locator(request), source=body.source, category_code=body.category,
        where=intake.Where(lon=body.lon, lat=body.lat, x=body.x, y=body.y, crs=body.crs,
                           address=body.address),
        actor=who.name, scope=who.scope_code, now=now(request), description=body.description,
        building_code=body.building_code, reporter=body.reporter, idempotency_key=idempotency_key)
    session.commit()
    return _created_response(session, created)


class AlertIn(BaseModel):
    """A camera-AI alert; the names video platforms commonly use are accepted too."""

    camera: str = Field(description="camera code",
                        validation_alias=AliasChoices("camera", "camera_code", "camera_id"))
    type: str = Field(description="alert type, e.g. 占道经营, 店外经营, 扬尘, 油烟, 乱堆物料",
                      validation_alias=AliasChoices("type", "alert_type", "event_type"))
    time: dt.datetime | None = Field(default=None, validation_alias=AliasChoices(
        "time", "alert_time", "detected_at", "timestamp"))
    snapshot_url: str | None = Field(default=None, max_length=500, validation_alias=AliasChoices(
        "snapshot_url", "snapshot", "image_url"))


@router.post("/alerts", status_code=201, summary="A camera-AI alert becomes a case at the place "
                                                  "the camera looks at")
def camera_alert(
    request: Request, body: AlertIn, session: SessionDep, who: DispatcherUser,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> JSONResponse:
    created = intake.alert_intake(
        session, locator(request),
        intake.Alert(camera=body.camera, type=body.type, time=body.time,
                     snapshot_url=body.snapshot_url),
        actor=who.name, scope=who.scope_code, now=now(request), idempotency_key=idempotency_key)
    session.commit()
    return _created_response(session, created)


@router.get("/cases/{case_id}", summary="A case with its history")
def get_case(case_id: int, session: SessionDep, who: WorkerUser) -> dict:
    return workflow.to_json(session, workflow.get(session, case_id, scope=who.scope_code),
                            events=True)


@router.get("/cases", summary="Cases, newest first")
def list_cases(
    session: SessionDep, who: WorkerUser,
    status: str | None = None, grid: str | None = None, category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict]:
    found = workflow.newest(session, scope=who.scope_code, status=status, grid=grid,
                            category=category, limit=limit)
    return [workflow.to_json(session, c) for c in found]


class TransitionIn(BaseModel):
    action: str = Field(description=", ".join(f"{k} ({v.zh})" for k, v in workflow.ACTIONS.items()))
    note: str | None = Field(default=None, max_length=2000)
    photo_ids: list[int] = Field(default_factory=list)
    assignee: str | None = None
    category: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    rating: int | None = None


@router.post("/cases/{case_id}/transitions", summary="Move a case through the workflow")
def transition_case(
    request: Request, case_id: int, body: TransitionIn, session: SessionDep, who: WorkerUser,
) -> dict:
    case = workflow.get(session, case_id, scope=who.scope_code)
    require_transition(who, body.action)
    lon = lat = None
    if body.lon is not None and body.lat is not None:
        point = to_point(body.lon, body.lat, None, None, body.crs)
        lon, lat = point.lon, point.lat
    workflow.transition(session, locator(request), case, body.action, actor=who.name,
                        now=now(request), note=body.note, photo_ids=body.photo_ids,
                        category_code=body.category, lon=lon, lat=lat, assignee=body.assignee,
                        rating=body.rating)
    session.commit()
    return workflow.to_json(session, case, events=True)


@router.post("/cases/{case_id}/photos", status_code=201, summary="Attach a photo (JPEG, PNG, WebP; ≤ 5 MB)")
async def upload_photo(case_id: int, session: SessionDep, who: WorkerUser,
                       file: Annotated[UploadFile, File()]) -> dict:
    case = workflow.get(session, case_id, scope=who.scope_code)
    photo = photos.attach(session, case, await file.read(photos.MAX_PHOTO_BYTES + 1),
                          file.content_type)
    session.commit()
    return photos.as_json(photo)


@router.get("/cases/{case_id}/photos/{photo_id}", summary="A case photo")
def get_photo(case_id: int, photo_id: int, session: SessionDep, who: WorkerUser) -> Response:
    photo = photos.get(session, workflow.get(session, case_id, scope=who.scope_code), photo_id)
    return Response(photo.data, media_type=photo.content_type)


@router.get("/cases/{case_id}/cameras", summary="Cameras whose view covers the case's place")
def case_cameras(case_id: int, session: SessionDep, who: WorkerUser) -> list[dict]:
    return workflow.cameras_seeing(session, workflow.get(session, case_id, scope=who.scope_code))


# -- routing tables --------------------------------------------------------------------------------
@router.get("/routing", tags=["routing"], summary="The routing tables in force")
def get_routing(session: SessionDep, who: WorkerUser,
                format: Literal["json", "csv"] = "json") -> Response:
    version, categories, departments = routing.load(session)
    session.commit()
    if format == "csv":
        return PlainTextResponse(routing.to_csv(categories), media_type="text/csv")
    return JSONResponse(routing.as_json(version, categories, departments))


class RoutingIn(BaseModel):
    departments: dict[str, str]
    categories: list[dict]
    note: str | None = None


@router.put("/routing", tags=["routing"], summary="Replace the routing tables (a new version)")
def put_routing(body: RoutingIn, session: SessionDep, who: AdminUser) -> dict:
    version = routing.save_version(session, routing.rows_from_json(body.categories),
                                   body.departments, by=who.name, note=body.note or "API")
    session.commit()
    return {"version": version}
