"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over HTTP: form-encoded posts,
``api_key`` as a form field, errors as ``[{"code", "description"}]`` (the Open311 formatter of
the one error table). Requests go through the same intake as ``POST /v1/cases``; the rest is
layers/cases/open311.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.deps import PublicAccess, SessionDep
from api.errors import Open311Route
from api.security import Principal, access
from layers.cases import intake, open311

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


@router.get("/services.json", summary="Open311: the list of services (case categories)")
def services(session: SessionDep, _: PublicAccess) -> list[dict]:
    found = open311.services(session)
    session.commit()  # the default routing tables are created on first use
    return found


@router.get("/services/{service_code}.json", summary="Open311: one service definition")
def service_definition(service_code: str, session: SessionDep, _: PublicAccess) -> dict:
    return open311.service_definition(session, service_code)


def _number(form, key: str) -> float | None:
    value = form.get(key)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise open311.BadRequest("lat and long must be numbers", zh="经纬度必须是数字") from None


@router.post("/requests.json", summary="Open311: create a service request (form fields; "
                                         "api_key or a bearer token)")
async def create_request(
    request: Request, session: SessionDep,
    who: Annotated[Principal, Depends(access("worker", form_key="api_key"))],
) -> list[dict]:
    form = await request.form()
    code = form.get("service_code")
    if not code:
        raise open311.BadRequest("service_code is required", zh="请选择诉求类别")
    lat, lon = _number(form, "lat"), _number(form, "long")
    reporter = {k: form.get(k) for k in ("email", "first_name", "last_name", "phone", "device_id")
                if form.get(k)}
    created = intake.intake(
        session, request.app.state.locators.active(), source="open311", category_code=code,
        where=intake.Where(lon=lon, lat=lat, address=form.get("address_string") or None),
        actor=who.name, scope=who.scope_code, now=request.app.state.clock(),
        description=form.get("description") or None, reporter=reporter,
        idempotency_key=request.headers.get("idempotency-key") or form.get("idempotency_key"),
        snapshot_url=form.get("media_url") or None)
    session.commit()
    return open311.created_answer(created)


@router.get("/requests.json", summary="Open311: search service requests")
def list_requests(
    session: SessionDep, _: PublicAccess,
    service_request_id: str | None = None, service_code: str | None = None,
    start_date: dt.datetime | None = None, end_date: dt.datetime | None = None,
    status: str | None = None,
) -> list[dict]:
    return open311.search(session, service_request_id=service_request_id,
                          service_code=service_code, start_date=start_date, end_date=end_date,
                          status=status)


@router.get("/requests/{request_id}.json", summary="Open311: one service request")
def get_request(request_id: str, session: SessionDep, _: PublicAccess) -> list[dict]:
    return open311.one_request(session, request_id)


@router.get("/tokens/{token}.json", summary="Open311: the request id behind a token")
def token(token: str, session: SessionDep, _: PublicAccess) -> list[dict]:
    return open311.request_for_token(session, token)
