"""Cases: intake from patrols, residents, the hotline, Open311 and camera AI; routing by place and
category; the GB/T 30428 / CJ/T 315 workflow with time limits, escalation and duplicates.

信息采集 (reported) → 立案 (registered) or 作废 (cancelled) → 派遣 (dispatched) → 处置 (processing)
→ 处置反馈 (resolved) → 核查 (verified; a failed check goes back to dispatched) → 结案 (closed),
with 挂账 (suspend/resume), 回退 (return for re-routing), 督办 (supervise) and 评价 (rate).
Every transition is an event with actor, time, note and photos; anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import numpy as np
import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from gis.coverage import sees
from layers import clock
from layers.access import audit, idempotency
from layers.access.policy import Principal, require_scope, require_transition
from layers.cases import routing
from layers.cases.working_calendar import add_working_hours, holiday_calendar
from layers.errors import DomainError
from layers.locating.locators import Locator
from layers.storage.models import Case, CaseEvent, CaseStatus, Category, Photo

S = CaseStatus
OPEN = (S.REPORTED, S.REGISTERED, S.DISPATCHED, S.PROCESSING, S.RESOLVED, S.VERIFIED, S.SUSPENDED)
SOURCES = ("patrol", "resident", "hotline", "open311", "camera", "task")  # task: a department's grid task
ESCALATION_ZH = {0: "网格", 1: "街道（镇）中心", 2: "区中心"}


class CaseError(DomainError):
    code = "case_error"


class CaseNotFound(CaseError):
    code = "case_not_found"


class InvalidCase(CaseError):
    code = "invalid_case"


class IllegalTransition(CaseError):
    code = "illegal_transition"


class UnknownPhoto(CaseError):
    code = "unknown_photo"


@dataclass(frozen=True)
class Action:
    zh: str
    sources: tuple[CaseStatus, ...]
    target: CaseStatus | None  # None: stays (supervise, rate, reroute) or computed (resume)


ACTIONS: dict[str, Action] = {
    "register": Action("立案", (S.REPORTED,), S.REGISTERED),
    "cancel": Action("作废", (S.REPORTED, S.REGISTERED), S.CANCELLED),
    "dispatch": Action("派遣", (S.REGISTERED,), S.DISPATCHED),
    "start": Action("处置", (S.DISPATCHED,), S.PROCESSING),
    "feedback": Action("处置反馈", (S.PROCESSING,), S.RESOLVED),
    "verify_pass": Action("核查通过", (S.RESOLVED,), S.VERIFIED),
    "verify_fail": Action("核查未通过，重新派遣", (S.RESOLVED,), S.DISPATCHED),
    "close": Action("结案", (S.VERIFIED,), S.CLOSED),
    "suspend": Action("挂账", (S.REGISTERED, S.DISPATCHED, S.PROCESSING), S.SUSPENDED),
    "resume": Action("恢复", (S.SUSPENDED,), None),
    "return": Action("回退", (S.DISPATCHED, S.PROCESSING), S.REGISTERED),
    "supervise": Action("督办", (S.REGISTERED, S.DISPATCHED, S.PROCESSING, S.RESOLVED, S.VERIFIED,
                                 S.SUSPENDED), None),
    "reroute": Action("改派（类别或位置变更）", (S.REPORTED, S.REGISTERED, S.DISPATCHED), None),
    "rate": Action("评价", (S.CLOSED,), None),
}
STATUS_ZH = {S.REPORTED: "信息采集", S.REGISTERED: "立案", S.DISPATCHED: "派遣", S.PROCESSING: "处置",
             S.RESOLVED: "处置反馈", S.VERIFIED: "核查", S.CLOSED: "结案", S.CANCELLED: "作废",
             S.SUSPENDED: "挂账", S.MERGED: "重复合并"}
# every event a case's timeline shows, in Chinese: the workflow's actions and the system's own
EVENT_ZH = {**{action: spec.zh for action, spec in ACTIONS.items()},
            "report": "上报", "escalate": "超时升级", "duplicate_linked": "关联重复上报"}


def _event(session: Session, case: Case, at: dt.datetime, actor: str, action: str,
           before: CaseStatus | None, note: str | None = None, photos: list[int] | None = None,
           idempotency_key: str | None = None) -> None:
    session.add(CaseEvent(case_id=case.id, at=at, actor=actor, action=action,
                          from_status=before.value if before else None,
                          to_status=case.status.value, note=note, photo_ids=photos or [],
                          idempotency_key=idempotency_key))


# -- routing ---------------------------------------------------------------------------------------
def _route(case: Case, locator: Locator, category) -> None:
    """Who handles the case: grid worker, specialist or department, by the category's handler."""
    workers = locator.workers.get(case.grid_code or "", [])
    by_role: dict[str, str] = {}
    for w in workers:
        by_role.setdefault(w["role"], w["code"])
    grid_worker = by_role.get("full_time") or by_role.get("part_time")
    handler = category.handler
    case.department_code = category.department_code if handler == "department" else None
    if handler in ("environment", "safety"):
        case.assignee_worker_code = by_role.get(handler) or grid_worker
    else:
        case.assignee_worker_code = grid_worker  # the grid worker is the department's liaison too


def _grid_at(locator: Locator, lon: float, lat: float) -> tuple[str, int]:
    g, _on_boundary = locator.index.locate_one(lon, lat)
    if g < 0:
        raise InvalidCase(f"the location {lon:.6f}, {lat:.6f} is not in any grid of the district")
    return str(locator.index.codes[g]), int(locator.generation["id"])


def _find_duplicate(session: Session, category_code: str, radius: float, lon: float,
                    lat: float) -> Case | None:
    if radius <= 0:
        return None
    return session.scalars(
        select(Case)
        .where(Case.category_code == category_code, Case.status.in_(OPEN), Case.duplicate_of.is_(None))
        .where(text("ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :r)")
               .bindparams(x=lon, y=lat, r=radius))
        .order_by(text("geom::geography <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography")
                  .bindparams(x=lon, y=lat))
        .limit(1)
    ).first()


@dataclass
class Created:
    case: Case
    new: bool  # False when the idempotency key was seen before
    duplicate_of: Case | None


def create(session: Session, locator: Locator, *, source: str, category_code: str,
           lon: float, lat: float, actor: str, now: dt.datetime, description: str | None = None,
           address: str | None = None, building_code: str | None = None,
           reporter: dict | None = None, idempotency_key: str | None = None,
           camera_code: str | None = None, snapshot_url: str | None = None) -> Created:
    """Record a new case (信息采集), routed to its grid and handler, or linked to an open duplicate.

    A repeated idempotency key answers the case the same caller made the first time (also when
    the repeats race), and is refused for anyone else (layers/access/idempotency.py)."""
    if (seen := idempotency.replayed(session, idempotency.CASES, idempotency_key, actor)) is not None:
        return _replay(session, seen)
    if source not in SOURCES:
        raise InvalidCase(f"source {source!r} is not one of {', '.join(SOURCES)}")
    version, categories, _departments = routing.load(session)
    category = categories.get(category_code)
    if category is None:
        raise InvalidCase(f"unknown category {category_code!r}; see GET /v1/routing")
    grid_code, generation_id = _grid_at(locator, lon, lat)
    duplicate = _find_duplicate(session, category_code, category.duplicate_radius_m, lon, lat)
    case = Case(
        case_no="pending", token=secrets.token_urlsafe(12), source=source,
        category_code=category_code, routing_version_id=version, description=description,
        address=address, building_code=building_code, camera_code=camera_code,
        snapshot_url=snapshot_url, reporter=reporter or {},
        status=S.MERGED if duplicate else S.REPORTED, grid_code=grid_code,
        generation_id=generation_id, duplicate_of=duplicate.id if duplicate else None,
        idempotency_key=idempotency_key, reported_by=actor, created_at=now, updated_at=now,
        geom=from_shape(shapely.Point(lon, lat), srid=4326),
    )
    _route(case, locator, category)

    def insert() -> int:
        session.add(case)
        session.flush()
        return case.id

    case_id, new = idempotency.insert_once(session, idempotency.CASES, idempotency_key, actor,
                                           insert)
    if not new:
        return _replay(session, case_id)
    case.case_no = f"RC{clock.day_of(now):%Y%m%d}{case.id:07d}"
    _event(session, case, now, actor, "report", None,
           f"重复案件，已关联 {duplicate.case_no}" if duplicate else None)
    if duplicate:
        _event(session, duplicate, now, actor, "duplicate_linked", duplicate.status,
               f"新上报 {case.case_no} 与本案重复")
    return Created(case, True, duplicate)


def _replay(session: Session, case_id: int) -> Created:
    seen = session.get_one(Case, case_id)  # the case that holds the key
    return Created(seen, False, session.get(Case, seen.duplicate_of) if seen.duplicate_of else None)


def get(session: Session, case_id: int, *, scope: str | None = None) -> Case:
    """A case by id, refused (OutOfScope) when its grid is outside the caller's scope."""
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    if case.grid_code:
        require_scope(scope, case.grid_code)
    return case


def newest(session: Session, *, scope: str | None, status: str | None = None,
           grid: str | None = None, category: str | None = None, limit: int = 50) -> list[Case]:
    """Cases newest first, inside the caller's scope (``grid`` narrows it, never widens it)."""
    if grid:
        require_scope(scope, grid)
    prefix = grid or scope
    q = select(Case).order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    if status:
        q = q.where(Case.status == status)
    if prefix:
        q = q.where(Case.grid_code.startswith(prefix))
    if category:
        q = q.where(Case.category_code == category)
    return list(session.scalars(q))


def transition(session: Session, locator: Locator, case: Case, action: str, *, actor: str,
               now: dt.datetime, note: str | None = None, photo_ids: list[int] | None = None,
               category_code: str | None = None, lon: float | None = None, lat: float | None = None,
               assignee: str | None = None, rating: int | None = None,
               scope: str | None = None, idempotency_key: str | None = None) -> Case:
    """Take one workflow action; a case re-routed (``reroute``, ``return`` with a new place) must
    stay inside the caller's ``scope``."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise IllegalTransition(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if case.status not in spec.sources:
        allowed = [a for a, s in ACTIONS.items() if case.status in s.sources]
        raise IllegalTransition(
            f"cannot {action} ({spec.zh}) a case that is {case.status.value} "
            f"({STATUS_ZH[case.status]}); allowed now: {', '.join(allowed) or 'nothing'}")
    if photo_ids:
        owned = set(session.scalars(select(Photo.id).where(Photo.case_id == case.id)))
        if not set(photo_ids) <= owned:
            raise UnknownPhoto("photo_ids must be photos uploaded to this case", zh="照片不属于该案件")
    before = case.status
    _version, categories, _ = routing.load(session, case.routing_version_id)
    category = categories[case.category_code]
    if action == "register":
        case.registered_at = now
        case.deadline = add_working_hours(now, category.time_limit_hours, holiday_calendar(session))
    elif action == "dispatch" and assignee:
        case.assignee_worker_code = assignee
    elif action == "close":
        case.closed_at = now
    elif action == "suspend":
        case.suspended_from = before
    elif action == "resume":
        case.status = case.suspended_from or S.REGISTERED
        case.suspended_from = None
    elif action == "supervise":
        case.supervised = True
    elif action == "rate":
        if rating is None or not 1 <= rating <= 5:
            raise InvalidCase("rate needs a rating from 1 to 5")
        case.rating = rating
    elif action in ("reroute", "return"):
        _reroute(session, locator, case, category_code, lon, lat, now)
        require_scope(scope, case.grid_code)
    if spec.target is not None:
        case.status = spec.target
    case.updated_at = now
    _event(session, case, now, actor, action, before, note, photo_ids, idempotency_key)
    return case


def act(session: Session, locator: Locator, case: Case, action: str, *, by: Principal,
        now: dt.datetime, idempotency_key: str | None = None, **details) -> Case:
    """A person's workflow action: allowed for their role (the access policy), kept inside their
    scope, recorded in the case's events and in the audit log.

    With an ``idempotency_key`` (the client's ``Idempotency-Key``) a resend — a double click, a
    retry after a lost answer — answers the case as the first one left it and acts once. The key
    is bound to its caller, case and action: the same key for anything else is refused."""
    require_transition(by, action)

    def act_once() -> int:
        transition(session, locator, case, action, actor=by.name, now=now, scope=by.scope_code,
                   idempotency_key=idempotency_key, **details)
        session.flush()
        return case.id

    _, new = idempotency.insert_once(session, idempotency.CASE_ACTIONS, idempotency_key,
                                     by.name, act_once, case_id=case.id, action=action)
    if new:
        audit.record(session, by, f"case.act:{action}", case.case_no)
    else:  # a resend: the case as the first attempt left it
        session.refresh(case)
    return case


def _reroute(session: Session, locator: Locator, case: Case, category_code: str | None,
             lon: float | None, lat: float | None, now: dt.datetime) -> None:
    """A changed category or location routes the case again (the latest routing tables)."""
    version, categories, _ = routing.load(session)
    if category_code is not None:
        if category_code not in categories:
            raise InvalidCase(f"unknown category {category_code!r}")
        case.category_code = category_code
    if lon is not None and lat is not None:
        case.grid_code, case.generation_id = _grid_at(locator, lon, lat)
        case.geom = from_shape(shapely.Point(lon, lat), srid=4326)
    case.routing_version_id = version
    category = categories[case.category_code]
    _route(case, locator, category)
    if case.registered_at is not None:
        case.deadline = add_working_hours(case.registered_at, category.time_limit_hours,
                                          holiday_calendar(session))


def escalate_overdue(session: Session, now: dt.datetime) -> list[Case]:
    """镇呼区应: an open case past its deadline goes to the street centre; past a second time
    limit, to the district. Idempotent for a given ``now``; run it on any clock."""
    cal = holiday_calendar(session)
    limits: dict[int, dict] = {}  # routing version → category → time limit
    changed = []
    # Every API process runs this every minute; SKIP LOCKED lets them share the work without
    # escalating a case twice. A case already at the street is read only once its second
    # deadline may have come: that is its time limit in working hours after the first, so at
    # least as many hours of wall time (before, every open overdue case was read every minute).
    limit = func.make_interval(0, 0, 0, 0, 0, 0, Category.time_limit_hours * 3600.0)
    open_cases = session.scalars(select(Case).join(Category, and_(
        Category.version_id == Case.routing_version_id, Category.code == Case.category_code,
    )).where(
        Case.status.in_([s for s in OPEN if s != S.SUSPENDED]), Case.deadline.is_not(None),
        Case.deadline < now, Case.escalation_level < 2,
        or_(Case.escalation_level == 0, Case.deadline + limit <= now),
    ).with_for_update(of=Case, skip_locked=True))
    for case in open_cases:
        if case.routing_version_id not in limits:
            _ver, categories, _ = routing.load(session, case.routing_version_id)
            limits[case.routing_version_id] = {c: k.time_limit_hours for c, k in categories.items()}
        limit = limits[case.routing_version_id][case.category_code]
        assert case.deadline is not None  # the query takes only cases with a deadline
        second = add_working_hours(case.deadline, limit, cal)
        level = 2 if now >= second else 1
        if level > case.escalation_level:
            case.escalation_level = level
            case.updated_at = now
            _event(session, case, now, "system", "escalate", case.status,
                   f"超时未办结，升级至{ESCALATION_ZH[level]}")
            changed.append(case)
    return changed


def location(case: Case) -> tuple[float, float]:
    """The case's WGS84 lon/lat, from the geometry already loaded with it (no query)."""
    point = to_shape(case.geom)
    return point.x, point.y


def cameras_seeing(session: Session, case: Case) -> list[dict]:
    """Video cameras whose view sector covers the case's place, nearest first."""
    rows = session.execute(text("""
        SELECT c.code, c.name, c.kind::text AS kind, c.heading_deg, c.fov_deg, c.range_m,
               ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
               ST_Distance(c.geom::geography, k.geom::geography) AS distance_m
        FROM cameras c, cases k
        WHERE k.id = :id AND c.kind IN ('fixed', 'ptz', 'panoramic') AND c.range_m IS NOT NULL
          AND ST_DWithin(c.geom::geography, k.geom::geography, c.range_m)
        ORDER BY distance_m
    """), {"id": case.id}).all()
    if not rows:
        return []
    px, py = location(case)
    visible = sees(np.array([r.lon for r in rows]), np.array([r.lat for r in rows]),
                   np.array([r.heading_deg or 0 for r in rows]), np.array([r.fov_deg or 360 for r in rows]),
                   np.array([r.range_m for r in rows]), px, py)
    return [{"code": r.code, "name": r.name, "kind": r.kind, "heading_deg": r.heading_deg,
             "fov_deg": r.fov_deg, "range_m": r.range_m, "distance_m": round(r.distance_m, 1)}
            for r, ok in zip(rows, visible, strict=True) if ok]


def to_json(session: Session, case: Case, *, events: bool = False) -> dict:
    lon, lat = location(case)
    out = {
        "id": case.id, "case_no": case.case_no, "source": case.source,
        "category_code": case.category_code, "description": case.description,
        "address": case.address, "building_code": case.building_code,
        "status": case.status.value, "status_zh": STATUS_ZH[case.status],
        "location": {"lon": round(lon, 7), "lat": round(lat, 7)},
        "grid_code": case.grid_code, "generation_id": case.generation_id,
        "assignee_worker_code": case.assignee_worker_code, "department_code": case.department_code,
        "escalation_level": case.escalation_level, "escalated_to": ESCALATION_ZH[case.escalation_level],
        "supervised": case.supervised, "duplicate_of": case.duplicate_of,
        "camera_code": case.camera_code, "snapshot_url": case.snapshot_url,
        "created_at": case.created_at.isoformat(),
        "registered_at": case.registered_at.isoformat() if case.registered_at else None,
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "updated_at": case.updated_at.isoformat(), "rating": case.rating,
        "routing_version_id": case.routing_version_id,
    }
    if events:
        out["events"] = [
            {"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
             "action_zh": EVENT_ZH.get(e.action, e.action),
             "from": e.from_status, "to": e.to_status, "note": e.note, "photo_ids": e.photo_ids}
            for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                     .order_by(CaseEvent.at, CaseEvent.id))]
        out["photos"] = [  # GET /v1/cases/{id}/photos/{photo_id}
            {"id": pid, "content_type": ctype, "size": size}
            for pid, ctype, size in session.execute(
                select(Photo.id, Photo.content_type, Photo.size).where(Photo.case_id == case.id)
                .order_by(Photo.id))]
    return out
