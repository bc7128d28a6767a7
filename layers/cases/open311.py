"""Cases as Open311 GeoReport v2 sees them (https://wiki.open311.org/GeoReport_v2): services are
the routing table's categories, requests are cases, times are ISO 8601 with zone, coordinates
WGS84. The HTTP shape (form bodies, ``[{"code", "description"}]`` errors) is api/routers/open311.py.

Public on purpose: anyone may follow the city's requests, as FixMyStreet shows reports — but
not what is nobody else's business. Unless the caller may read cases (``may_see_case``: a role
with ``case.read`` whose scope covers the case — not a department), a
request in a *sensitive* category (a routing-table flag: 邻里纠纷, 治安隐患 by default) has no
description, address or position, and every other description has its phone- and ID-like
numbers masked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from layers.access.masking import mask_numbers
from layers.access.policy import ANONYMOUS, Principal, may_see_case
from layers.cases import routing, workflow
from layers.clock import CHINA
from layers.errors import DomainError
from layers.storage.models import Case, CaseStatus, RoutingVersion

CLOSED = {CaseStatus.CLOSED, CaseStatus.CANCELLED}
MAX_RESULTS = 1000


class ServiceNotFound(DomainError):
    code = "service_not_found"


class RequestNotFound(DomainError):
    code = "request_not_found"


class BadRequest(DomainError):
    code = "bad_request"


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else None


def _service(c) -> dict:
    return {"service_code": c.code, "service_name": c.name,
            "description": f"{c.big_class} · {c.name}", "metadata": False, "type": "realtime",
            "keywords": ";".join(c.alert_types or []), "group": c.big_class}


def services(session: Session) -> list[dict]:
    _version, categories, _departments = routing.load(session)
    return [_service(c) for c in categories.values()]


def service_definition(session: Session, service_code: str) -> dict:
    _version, categories, _departments = routing.load(session)
    if service_code not in categories:
        raise ServiceNotFound(f"service_code {service_code} not found", zh="未找到该服务类别")
    return {"service_code": service_code, "attributes": []}


def request_json(session: Session, case: Case, tables: dict | None = None, *,
                 by: Principal = ANONYMOUS) -> dict:
    """A case as an Open311 request, as much of it as ``by`` may see; ``tables`` caches routing
    versions across a listing."""
    lon, lat = workflow.location(case)
    tables = {} if tables is None else tables
    if case.routing_version_id not in tables:
        tables[case.routing_version_id] = routing.load(session, case.routing_version_id)[1:]
    categories, departments = tables[case.routing_version_id]
    category = categories.get(case.category_code)
    status = "closed" if case.status in CLOSED else "open"
    full = may_see_case(by, case.grid_code)
    hidden = not full and (category is None or category.sensitive)
    answer = {
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
    if hidden:  # not even the grid: it would place the dispute within a few hundred metres
        answer.update(description=None, address=None, address_id=None, lat=None, long=None,
                      media_url=None, agency_responsible="网格员")
    elif not full:
        answer["description"] = mask_numbers(case.description)
    return answer


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time as the spec has it (a date alone is midnight in China Standard Time)."""
    if value is None or value == "":
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{value!r} is not an ISO 8601 time, e.g. 2026-11-01T00:00:00+08:00",
                         zh="时间格式有误") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def search(session: Session, *, service_request_id: str | None = None,
           service_code: str | None = None, start_date: dt.datetime | None = None,
           end_date: dt.datetime | None = None, status: str | None = None,
           by: Principal = ANONYMOUS) -> list[dict]:
    q = select(Case).order_by(Case.created_at.desc()).limit(MAX_RESULTS)
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
        raise BadRequest("status must be open or closed", zh="status 只能是 open 或 closed")
    tables: dict = {}
    return [request_json(session, c, tables, by=by) for c in session.scalars(q)]


def one_request(session: Session, request_id: str, *, by: Principal = ANONYMOUS) -> list[dict]:
    case = session.scalars(select(Case).where(Case.case_no == request_id)).first()
    if case is None:
        raise RequestNotFound(f"service_request_id {request_id} not found", zh="未找到该诉求")
    return [request_json(session, case, by=by)]


def request_for_token(session: Session, token: str) -> list[dict]:
    case = session.scalars(select(Case).where(Case.token == token)).first()
    if case is None:
        raise RequestNotFound(f"token {token} not found", zh="未找到该诉求")
    return [{"service_request_id": case.case_no, "token": token}]


def created_answer(created: workflow.Created) -> list[dict]:
    case = created.case
    notice = (f"与已受理案件 {created.duplicate_of.case_no} 重复，已合并处理" if created.duplicate_of
              else "已受理")
    return [{"service_request_id": case.case_no, "token": case.token, "service_notice": notice,
             "account_id": None}]


def discovery(session: Session, base_url: str) -> dict:
    """The GeoReport v2 discovery document: where the endpoint is, what it speaks, and when its
    service list last changed (the routing tables' newest version)."""
    changed = session.scalar(select(func.max(RoutingVersion.created_at)))
    changeset = _iso(changed) or _iso(dt.datetime(2026, 1, 1, tzinfo=CHINA))
    return {
        "changeset": changeset,
        "contact": "任城区网格化服务管理中心 (Rencheng grid management centre)",
        "key_service": "an API credential from the grid management centre (gridmap user add)",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": f"{base_url.rstrip('/')}/open311/v2",
            "changeset": changeset,
            "type": "production",
            "formats": ["application/json", "application/xml"],
        }],
    }
