"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over HTTP: form-encoded posts,
``api_key`` as a form field, errors as ``[{"code", "description"}]`` (the Open311 formatter of
the one error table). Requests go through the same intake as ``POST /v1/cases``; the rest is
layers/cases/open311.py."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy.orm import Session

from api.deps import IdempotencyKey, Responses, SessionDep, allowed
from api.errors import Open311Route
from api.open311_xml import XML, Open311XmlRoute, document
from layers.access.policy import Principal
from layers.cases import intake, open311

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)
# the same answers in XML (the specification's other format): /services.xml, /requests.xml, …
xml_router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311XmlRoute)
XML_RESPONSE: Responses = {200: {"content": {XML: {"schema": {"type": "string"}}}, "description": "XML"}}
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
    return found


@router.get("/services/{service_code}.json", summary="Open311: one service definition")
def service_definition(service_code: str, session: SessionDep, _: Reader) -> dict:
    return open311.service_definition(session, service_code)


def _utf8(value: object) -> object:
    """A form field as text, an empty one as absent. Starlette reads raw (not percent-encoded)
    bytes of a form body as Latin-1; clients that post UTF-8 unencoded (several do) would be
    stored as mojibake, so Latin-1 text that is valid UTF-8 is read again as UTF-8."""
    if not isinstance(value, str):
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("latin-1").decode("utf-8")
    return value or None


Text100 = Annotated[str | None, BeforeValidator(_utf8), Field(max_length=100)]
Text300 = Annotated[str | None, BeforeValidator(_utf8), Field(max_length=300)]
Text500 = Annotated[str | None, BeforeValidator(_utf8), Field(max_length=500)]
Text2000 = Annotated[str | None, BeforeValidator(_utf8), Field(max_length=2000)]


class ServiceRequestIn(BaseModel):
    """A GeoReport v2 service request, as its form fields (``api_key`` is read by the access
    dependency; attributes we do not know are ignored, as the specification asks)."""

    service_code: Annotated[str, BeforeValidator(_utf8), Field(min_length=1, max_length=20)]
    lat: Annotated[float | None, BeforeValidator(_utf8), Field(allow_inf_nan=False)] = None
    long: Annotated[float | None, BeforeValidator(_utf8), Field(allow_inf_nan=False)] = None
    address_string: Text300 = None
    description: Text2000 = None
    email: Text100 = None
    first_name: Text100 = None
    last_name: Text100 = None
    phone: Text100 = None
    device_id: Text100 = None
    media_url: Text500 = None
    # the same key with every attempt, as the Idempotency-Key header (which wins when both are
    # sent), for GeoReport clients that can only send form fields
    idempotency_key: Text100 = None


ServiceRequestForm = Annotated[ServiceRequestIn, Form()]


@router.post("/requests.json", summary="Open311: create a service request (form fields; "
                                         "api_key or a bearer token)")
def create_request(request: Request, session: SessionDep,
                   who: allowed("case.create", form_key="api_key"), form: ServiceRequestForm,
                   key: IdempotencyKey = None) -> list[dict]:
    return _create(request, session, who, form, key)


@xml_router.post("/requests.xml", summary="Open311: create a service request, answered in XML",
                 response_class=Response, responses=XML_RESPONSE)
def create_request_xml(request: Request, session: SessionDep,
                       who: allowed("case.create", form_key="api_key"), form: ServiceRequestForm,
                       key: IdempotencyKey = None) -> Response:
    return document("service_requests", _create(request, session, who, form, key))


def _create(request: Request, session: Session, who: Principal, form: ServiceRequestIn,
            key: str | None) -> list[dict]:
    reporter = {k: getattr(form, k) for k in ("email", "first_name", "last_name", "phone",
                                              "device_id") if getattr(form, k)}
    created = intake.intake(
        session, request.app.state.locators.active(), source="open311",
        category_code=form.service_code,
        where=intake.Where(lon=form.long, lat=form.lat, address=form.address_string),
        by=who, now=request.app.state.clock(), description=form.description, reporter=reporter,
        idempotency_key=key or form.idempotency_key, snapshot_url=form.media_url)
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
