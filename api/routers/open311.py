"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): spec field names, errors as
``[{"code", "description"}]``, ISO-8601 times with zone. Services are the routing table's
categories; requests are cases. Coordinates are WGS84, as the spec assumes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.deps import PublicAccess, SessionDep
from api.security import Principal, access
from gis.crs import CoordinateError, check_lonlat
from layers.cases import routing, workflow
from layers.storage.models import Case, CaseStatus

router = APIRouter(prefix="/open311/v2", tags=["open311"])
CLOSED = {CaseStatus.CLOSED, CaseStatus.CANCELLED}


def error(status: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status)


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else None


def _service(c) -> dict:
    return {"service_code": c.code, "service_name": c.name,
            "description": f"{c.big_class} · {c.name}", "metadata": False, "type": "realtime",
            "keywords": ";".join(c.alert_types or []), "group": c.big_class}


@router.get("/services.json", summary="Open311: the list of services (case categories)")
def services(session: SessionDep, _: PublicAccess) -> list[dict]:
    _v, categories, _d = routing.load(session)
    session.commit()
    return [_service(c) for c in categories.values()]


@router.get("/services/{service_code}.json", summary="Open311: one service definition")
def service_definition(service_code: str, session: SessionDep, _: PublicAccess):
    _v, categories, _d = routing.load(session)
    if service_code not in categories:
        return error(404, f"service_code {service_code} not found")
    return {"service_code": service_code, "attributes": []}


def _request_json(session, case: Case, tables: dict | None = None) -> dict:
    """A case as an Open311 request; ``tables`` caches routing versions across a listing."""
    lon, lat = workflow.location(case)
    tables = {} if tables is None else tables
    if case.routing_version_id not in tables:
        tables[case.routing_version_id] = routing.load(session, case.routing_version_id)[1:]
    categories, departments = tables[case.routing_version_id]
    category = categories.get(case.category_code)
    status = "closed" if case.status in CLOSED else "open"
    return {
        "service_request_id": case.case_no,
        "status": status,
        "status_notes": workflow.STATUS_ZH[case.status],
        "service_name": category.name if category else case.category_code,
        "service_code": case.category_code,
        "description": case.description,
        "agency_responsible": departments.get(case.department_code or "", None)
        or (f"网格 {case.grid_code}" if case.grid_code else None),
        "service_notice": None,
        "requested_datetime": _iso(case.created_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.deadline),
        "address": case.address,
        "address_id": case.building_code,
        "zipcode": None,
        "lat": round(lat, 7),
        "long": round(lon, 7),
        "media_url": case.snapshot_url,
    }


@router.post("/requests.json", summary="Open311: create a service request (form fields; "
                                         "api_key or a bearer token)")
async def create_request(
    request: Request, session: SessionDep,
    who: Annotated[Principal, Depends(access("worker", form_key="api_key"))],
):
    form = await request.form()
    code = form.get("service_code")
    if not code:
        return error(400, "service_code is required")
    try:
        lat = float(form["lat"]) if form.get("lat") else None
        lon = float(form["long"]) if form.get("long") else None
    except ValueError:
        return error(400, "lat and long must be numbers")
    address = form.get("address_string") or None
    if lat is None or lon is None:
        gazetteer = request.app.state.locators.active().gazetteer
        found = gazetteer.search(address, limit=1)[1] if (address and gazetteer) else []
        if not found or found[0][1] < 0.8:
            return error(400, "send lat and long, or an address_string we can place")
        lon, lat = found[0][0].lon, found[0][0].lat
    try:
        check_lonlat(lon, lat)
    except CoordinateError as exc:
        return error(400, str(exc))
    reporter = {k: form.get(k) for k in ("email", "first_name", "last_name", "phone", "device_id")
                if form.get(k)}
    try:
        created = workflow.create(
            session, request.app.state.locators.active(), source="open311", category_code=code,
            lon=lon, lat=lat, actor=who.name, now=request.app.state.clock(),
            description=form.get("description") or None, address=address, reporter=reporter,
            idempotency_key=request.headers.get("idempotency-key") or form.get("idempotency_key"),
            snapshot_url=form.get("media_url") or None)
    except workflow.InvalidCase as exc:
        return error(400, str(exc))
    session.commit()
    case = created.case
    notice = (f"与已受理案件 {created.duplicate_of.case_no} 重复，已合并处理" if created.duplicate_of
              else "已受理")
    return [{"service_request_id": case.case_no, "token": case.token, "service_notice": notice,
             "account_id": None}]


@router.get("/requests.json", summary="Open311: search service requests")
def list_requests(
    session: SessionDep, _: PublicAccess,
    service_request_id: str | None = None, service_code: str | None = None,
    start_date: dt.datetime | None = None, end_date: dt.datetime | None = None,
    status: str | None = None,
):
    q = select(Case).order_by(Case.created_at.desc()).limit(1000)
    if service_request_id:
        q = q.where(Case.case_no.in_(service_request_id.split(",")))
    if service_code:
        q = q.where(Case.category_code.in_(service_code.split(",")))
    if start_date:
        q = q.where(Case.created_at >= start_date)
    if end_date:
        q = q.where(Case.created_at <= end_date)
    if status == "open":
        q = q.where(Case.status.not_in(CLOSED))
    elif status == "closed":
        q = q.where(Case.status.in_(CLOSED))
    elif status:
        return error(400, "status must be open or closed")
    tables: dict = {}
    return [_request_json(session, c, tables) for c in session.scalars(q)]


@router.get("/requests/{request_id}.json", summary="Open311: one service request")
def get_request(request_id: str, session: SessionDep, _: PublicAccess):
    case = session.scalars(select(Case).where(Case.case_no == request_id)).first()
    if case is None:
        return error(404, f"service_request_id {request_id} not found")
    return [_request_json(session, case)]


@router.get("/tokens/{token}.json", summary="Open311: the request id behind a token")
def token(token: str, session: SessionDep, _: PublicAccess):
    case = session.scalars(select(Case).where(Case.token == token)).first()
    if case is None:
        return error(404, f"token {token} not found")
    return [{"service_request_id": case.case_no, "token": token}]
