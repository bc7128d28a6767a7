"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over HTTP: form-encoded posts,
``api_key`` as a form field, errors as ``[{"code", "description"}]`` (the Open311 formatter of
the one error table). Requests go through the same intake as ``POST /v1/cases``; the rest is
layers/cases/open311.py."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import SessionDep, allowed
from api.errors import Open311Route
from api.open311_xml import XML, Open311XmlRoute, document
from layers.cases import intake, open311

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)
# the same answers in XML (the specification's other format): /services.xml, /requests.xml, …
xml_router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311XmlRoute)
XML_RESPONSE = {200: {"content": {XML: {"schema": {"type": "string"}}}, "description": "XML"}}
Reader = allowed("open311.read")
# the discovery document sits beside the versioned endpoint, as GeoReport clients look for it
discovery_router = APIRouter(prefix="/open311", tags=["open311"], route_class=Open311Route)


@discovery_router.get("/discovery.json", summary="Open311: the discovery document (where the "
                                                "GeoReport v2 endpoint is, its formats)")
def discovery(request: Request, session: SessionDep, _: Reader) -> dict:
    return open311.discovery(session, str(request.base_url))


@router.get("/services.json", summary="Open311: the list of services (case categories)")
def services(session: SessionDep, _: Reader) -> list[dict]:
    found = open311.services(session)
    session.commit()  # the default routing tables are created on first use
    return found


@router.get("/services/{service_code}.json", summary="Open311: one service definition")
def service_definition(service_code: str, session: SessionDep, _: Reader) -> dict:
    return open311.service_definition(session, service_code)


def _text(form, key: str, limit: int = 2000) -> str | None:
    """A form field as text. Starlette reads raw (not percent-encoded) bytes of a form body as
    Latin-1; clients that post UTF-8 unencoded (several do) would be stored as mojibake, so
    Latin-1 text that is valid UTF-8 is read again as UTF-8."""
    value = form.get(key)
    if not isinstance(value, str) or not value:
        return None
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("latin-1").decode("utf-8")
    if len(value) > limit:
        raise open311.BadRequest(f"{key} is longer than {limit} characters", zh="内容过长")
    return value


def _number(form, key: str) -> float | None:
    value = _text(form, key, 40)
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
    who: allowed("case.create", form_key="api_key"),
) -> list[dict]:
    return await _create(request, session, who)


@xml_router.post("/requests.xml", summary="Open311: create a service request, answered in XML",
                 response_class=Response, responses=XML_RESPONSE)
async def create_request_xml(
    request: Request, session: SessionDep,
    who: allowed("case.create", form_key="api_key"),
) -> Response:
    return document("service_requests", await _create(request, session, who))


async def _create(request: Request, session, who) -> list[dict]:
    form = await request.form()
    code = _text(form, "service_code", 20)
    if not code:
        raise open311.BadRequest("service_code is required", zh="请选择诉求类别")
    lat, lon = _number(form, "lat"), _number(form, "long")
    reporter = {k: _text(form, k, 100) for k in ("email", "first_name", "last_name", "phone",
                                                  "device_id") if form.get(k)}
    created = intake.intake(
        session, request.app.state.locators.active(), source="open311", category_code=code,
        where=intake.Where(lon=lon, lat=lat, address=_text(form, "address_string", 300)),
        by=who, now=request.app.state.clock(),
        description=_text(form, "description"), reporter=reporter,
        idempotency_key=(request.headers.get("idempotency-key")
                         or _text(form, "idempotency_key", 100)),
        snapshot_url=_text(form, "media_url", 500))
    session.commit()
    return open311.created_answer(created)


@router.get("/requests.json", summary="Open311: search service requests")
def list_requests(
    session: SessionDep, who: Reader,
    service_request_id: str | None = None, service_code: str | None = None,
    start_date: Annotated[str | None, Query(max_length=40, description="ISO 8601, e.g. "
                                            "2026-11-01T00:00:00+08:00")] = None,
    end_date: Annotated[str | None, Query(max_length=40, description="ISO 8601")] = None,
    status: str | None = None,
) -> list[dict]:
    return open311.search(session, service_request_id=service_request_id,
                          service_code=service_code, start_date=open311.parse_time(start_date),
                          end_date=open311.parse_time(end_date), status=status, by=who)


@router.get("/requests/{request_id}.json", summary="Open311: one service request")
def get_request(request_id: str, session: SessionDep, who: Reader) -> list[dict]:
    return open311.one_request(session, request_id, by=who)


@router.get("/tokens/{token}.json", summary="Open311: the request id behind a token")
def token(token: str, session: SessionDep, _: Reader) -> list[dict]:
    return open311.request_for_token(session, token)


# -- XML -----------------------------------------------------------------------------------------
@xml_router.get("/services.xml", summary="Open311: the list of services, in XML",
                response_class=Response, responses=XML_RESPONSE)
def services_xml(session: SessionDep, _: Reader) -> Response:
    return document("services", services(session, _))


@xml_router.get("/services/{service_code}.xml", summary="Open311: one service definition, in XML",
                response_class=Response, responses=XML_RESPONSE)
def service_definition_xml(service_code: str, session: SessionDep, _: Reader) -> Response:
    return document("service_definition", open311.service_definition(session, service_code))


@xml_router.get("/requests.xml", summary="Open311: search service requests, in XML",
                response_class=Response, responses=XML_RESPONSE)
def list_requests_xml(
    session: SessionDep, who: Reader,
    service_request_id: str | None = None, service_code: str | None = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: str | None = None,
) -> Response:
    return document("service_requests", list_requests(
        session, who, service_request_id=service_request_id, service_code=service_code,
        start_date=start_date, end_date=end_date, status=status))


@xml_router.get("/requests/{request_id}.xml", summary="Open311: one service request, in XML",
                response_class=Response, responses=XML_RESPONSE)
def get_request_xml(request_id: str, session: SessionDep, who: Reader) -> Response:
    return document("service_requests", open311.one_request(session, request_id, by=who))


@xml_router.get("/tokens/{token}.xml", summary="Open311: the request id behind a token, in XML",
                response_class=Response, responses=XML_RESPONSE)
def token_xml(token: str, session: SessionDep, _: Reader) -> Response:
    return document("service_requests", open311.request_for_token(session, token))
