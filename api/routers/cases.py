"""Cases: intake (patrol, resident, hotline), camera-AI alerts, the workflow, photos, the cameras
that see a case, and the routing tables."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import AliasChoices, BaseModel, Field
from sqlalchemy import select

from api.deps import SessionDep
from api.errors import ApiError
from api.routers.locate import to_point
from api.security import Principal, access, require_scope
from gis.coverage import viewed_point
from layers.cases import routing, workflow
from layers.storage.models import Camera, Case, Photo

router = APIRouter(prefix="/v1", tags=["cases"])
WorkerUser = Annotated[Principal, Depends(access("worker"))]
DispatcherUser = Annotated[Principal, Depends(access("dispatcher"))]
AdminUser = Annotated[Principal, Depends(access("admin"))]
PHOTO_TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
               "image/webp": (b"RIFF",)}
MAX_PHOTO_BYTES = 5 * 1024 * 1024


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


def _place(request: Request, body_lon, body_lat, x, y, crs, address) -> tuple[float, float, str | None]:
    if (body_lon is not None and body_lat is not None) or (x is not None and y is not None):
        p = to_point(body_lon, body_lat, x, y, crs)
        return p.lon, p.lat, address
    if address:
        gazetteer = locator(request).gazetteer
        _parsed, found = gazetteer.search(address, limit=2) if gazetteer else (None, [])
        if found and found[0][1] >= 0.8:
            entry = found[0][0]
            return entry.lon, entry.lat, entry.address
        raise ApiError(422, "address_not_found", f"could not place the address {address!r}; "
                       "send coordinates or a fuller address", "无法定位该地址，请补充或使用定位")
    raise ApiError(422, "missing_location", "send lon/lat (or x/y with crs) or an address",
                   "请提供位置或地址")


def _created_response(session, created: workflow.Created, status: int) -> JSONResponse:
    body = workflow.to_json(session, created.case)
    if created.duplicate_of is not None:
        body["existing_case"] = workflow.to_json(session, created.duplicate_of)
    return JSONResponse(body, status_code=status)


@router.post("/cases", status_code=201, summary="Report a case (patrol, resident or hotline)")
def create_case(
    request: Request, body: CaseIn, session: SessionDep, who: WorkerUser,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> JSONResponse:
    lon, lat, address = _place(request, body.lon, body.lat, body.x, body.y, body.crs, body.address)
    created = workflow.create(
        session, locator(request), source=body.source, category_code=body.category, lon=lon,
        lat=lat, actor=who.name, now=now(request), description=body.description, address=address,
        building_code=body.building_code, reporter=body.reporter, idempotency_key=idempotency_key)
    require_scope(who, created.case.grid_code)
    session.commit()
    return _created_response(session, created, 201 if created.new else 200)


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
    camera = session.scalars(select(Camera).where(Camera.code == body.camera)).first()
    if camera is None:
        raise ApiError(422, "unknown_camera", f"no camera {body.camera}", "未找到该摄像头")
    _v, categories, _d = routing.load(session)
    category = next((c for c in categories.values() if body.type in (c.alert_types or [])), None)
    if category is None:
        known = sorted({t for c in categories.values() for t in (c.alert_types or [])})
        raise ApiError(422, "unknown_alert_type", f"alert type {body.type!r} maps to no category; "
                       f"known: {', '.join(known)}", "无法识别的告警类型")
    from geoalchemy2.shape import to_shape

    mast = to_shape(camera.geom)
    if camera.heading_deg is not None and camera.range_m:
        lon, lat = viewed_point(mast.x, mast.y, camera.heading_deg, camera.range_m)
    else:
        lon, lat = mast.x, mast.y
    at = body.time or now(request)
    created = workflow.create(
        session, locator(request), source="camera", category_code=category.code, lon=lon, lat=lat,
        actor=who.name, now=at, description=f"视频AI告警：{body.type}（{camera.name}）",
        camera_code=camera.code, snapshot_url=body.snapshot_url,
        idempotency_key=idempotency_key or f"alert:{camera.code}:{body.type}:{at.isoformat()}")
    session.commit()
    return _created_response(session, created, 201 if created.new else 200)


def _case_in_scope(session, case_id: int, who: Principal) -> Case:
    case = workflow.get(session, case_id)
    if case.grid_code:
        require_scope(who, case.grid_code)
    return case


@router.get("/cases/{case_id}", summary="A case with its history")
def get_case(case_id: int, session: SessionDep, who: WorkerUser) -> dict:
    return workflow.to_json(session, _case_in_scope(session, case_id, who), events=True)


@router.get("/cases", summary="Cases, newest first")
def list_cases(
    session: SessionDep, who: WorkerUser,
    status: str | None = None, grid: str | None = None, category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict]:
    q = select(Case).order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    if status:
        q = q.where(Case.status == status)
    prefix = grid or who.scope_code
    if grid and who.scope_code and not grid.startswith(who.scope_code):
        require_scope(who, grid)
    if prefix:
        q = q.where(Case.grid_code.startswith(prefix))
    if category:
        q = q.where(Case.category_code == category)
    return [workflow.to_json(session, c) for c in session.scalars(q)]


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


# Who may do what: workers handle and report back; dispatchers run the rest.
WORKER_ACTIONS = {"start", "feedback"}


@router.post("/cases/{case_id}/transitions", summary="Move a case through the workflow")
def transition_case(
    request: Request, case_id: int, body: TransitionIn, session: SessionDep, who: WorkerUser,
) -> dict:
    case = _case_in_scope(session, case_id, who)
    if body.action not in WORKER_ACTIONS and who.role.value == "worker":
        raise ApiError(403, "forbidden", f"a worker may only {', '.join(sorted(WORKER_ACTIONS))}; "
                       f"{body.action} needs a dispatcher", "网格员无权执行该操作")
    owned = set(session.scalars(select(Photo.id).where(Photo.case_id == case.id)))
    if not set(body.photo_ids) <= owned:
        raise ApiError(422, "unknown_photo", "photo_ids must be photos uploaded to this case",
                       "照片不属于该案件")
    lon = lat = None
    if body.lon is not None and body.lat is not None:
        p = to_point(body.lon, body.lat, None, None, body.crs)
        lon, lat = p.lon, p.lat
    workflow.transition(session, locator(request), case, body.action, actor=who.name,
                     now=now(request), note=body.note, photo_ids=body.photo_ids,
                     category_code=body.category, lon=lon, lat=lat, assignee=body.assignee,
                     rating=body.rating)
    session.commit()
    return workflow.to_json(session, case, events=True)


@router.post("/cases/{case_id}/photos", status_code=201, summary="Attach a photo (JPEG, PNG, WebP; ≤ 5 MB)")
async def upload_photo(case_id: int, session: SessionDep, who: WorkerUser,
                       file: Annotated[UploadFile, File()]) -> dict:
    case = _case_in_scope(session, case_id, who)
    data = await file.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(413, "photo_too_large", "photos may be at most 5 MB", "照片不能超过 5 MB")
    content_type = (file.content_type or "").lower()
    if content_type not in PHOTO_TYPES or not data.startswith(PHOTO_TYPES[content_type]):
        raise ApiError(415, "unsupported_photo", "send a JPEG, PNG or WebP image",
                       "仅支持 JPEG、PNG、WebP 图片")
    photo = Photo(case_id=case.id, content_type=content_type, size=len(data),
                  sha256=hashlib.sha256(data).hexdigest(), data=data)
    session.add(photo)
    session.commit()
    return {"id": photo.id, "size": photo.size, "content_type": content_type, "sha256": photo.sha256}


@router.get("/cases/{case_id}/photos/{photo_id}", summary="A case photo")
def get_photo(case_id: int, photo_id: int, session: SessionDep, who: WorkerUser) -> Response:
    _case_in_scope(session, case_id, who)
    photo = session.get(Photo, photo_id)
    if photo is None or photo.case_id != case_id:
        raise ApiError(404, "photo_not_found", "no such photo on this case", "未找到该照片")
    return Response(photo.data, media_type=photo.content_type)


@router.get("/cases/{case_id}/cameras", summary="Cameras whose view covers the case's place")
def case_cameras(case_id: int, session: SessionDep, who: WorkerUser) -> list[dict]:
    return workflow.cameras_seeing(session, _case_in_scope(session, case_id, who))


# -- routing tables --------------------------------------------------------------------------------
@router.get("/routing", tags=["routing"], summary="The routing tables in force")
def get_routing(session: SessionDep, who: WorkerUser,
                format: Literal["json", "csv"] = "json") -> Response:
    version, categories, departments = routing.load(session)
    session.commit()
    if format == "csv":
        return PlainTextResponse(routing.to_csv(categories), media_type="text/csv")
    return JSONResponse({
        "version": version, "departments": departments,
        "categories": [{"code": c.code, "name": c.name, "kind": c.kind, "big_class": c.big_class,
                        "handler": c.handler, "department_code": c.department_code,
                        "time_limit_hours": c.time_limit_hours,
                        "duplicate_radius_m": c.duplicate_radius_m, "alert_types": c.alert_types}
                       for c in categories.values()]})


class RoutingIn(BaseModel):
    departments: dict[str, str]
    categories: list[dict]
    note: str | None = None


@router.put("/routing", tags=["routing"], summary="Replace the routing tables (a new version)")
def put_routing(body: RoutingIn, session: SessionDep, who: AdminUser) -> dict:
    try:
        rows = [routing.CategoryRow(**{**{"alert_types": ""}, **{
            k: (";".join(v) if k == "alert_types" and isinstance(v, list) else v)
            for k, v in c.items()}}) for c in body.categories]
        version = routing.save_version(session, rows, body.departments, by=who.name,
                                       note=body.note or "API")
    except TypeError as exc:
        raise ApiError(422, "invalid_routing", f"invalid category row: {exc}", "路由表格式有误") from None
    except routing.RoutingError as exc:
        raise ApiError(422, "invalid_routing", str(exc), "路由表校验未通过",
                       problems=exc.problems) from None
    session.commit()
    return {"version": version}
