"""Department task orders (下单到网格): a department places a task into an area, gridmap fans it
out to one task per covered grid, each assigned to the grid's responsible worker (or to the
grid's environment or safety specialist when the task is of that category), and follows it.

The flow, in the issue's terms:

1. A ``department`` credential (``gridmap user add NAME --role department --department 生态环境局
   [--scope AREA]``) posts a task: title, instructions, category, deadline, attachments, and an
   area — national codes (district, street, community or grid) or a drawn polygon.
2. ``create`` finds the grids: every grid under the codes, or every grid the polygon covers by
   more than a square metre (PostGIS, on the active generation); each becomes a *grid task*
   assigned from the locator's worker assignments. A grid without a worker gets its task anyway,
   unassigned (待配备网格员), so the department sees the gap instead of losing the order.
3. The worker sees it in ``GET /v1/tasks/mine`` (and on the phone page), and moves it:
   ``accept`` → ``progress`` (notes, photo links) → ``complete``; or ``escalate`` when it needs a
   department's action: the grid task becomes a *case* in the same workflow (source ``task``), so
   time limits and escalation 镇呼区应 apply from there.
4. The department reads progress by street, community and grid, and the overdue ones
   (``GET /v1/tasks/{id}``); a department credential sees its own department's tasks only.

Every write is audited; the caller's scope applies in the queries.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.crs import transform_xy
from layers.access import audit, idempotency
from layers.access.policy import Principal, require_scope
from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.clock import CHINA
from layers.errors import DomainError
from layers.limits import Limits
from layers.locating.locators import Locator, grid_worker
from layers.storage.models import UserRole, WorkerRole

CATEGORIES = {"general": "综合", "environment": "环保", "safety": "安全", "market": "市场监管",
              "housing": "住建", "emergency": "应急"}
# the specialist who takes a category's grid tasks where one covers the grid
SPECIALIST = {"environment": WorkerRole.ENVIRONMENT, "safety": WorkerRole.SAFETY}
# action → (statuses it may start from, status it leads to)
ACTIONS = {
    "accept": ({"assigned"}, "accepted"),
    "progress": ({"accepted", "in_progress"}, "in_progress"),
    "complete": ({"accepted", "in_progress"}, "done"),
    "escalate": ({"assigned", "accepted", "in_progress"}, "escalated"),
}
STATUS_ZH = {"assigned": "待接收", "accepted": "已接收", "in_progress": "处理中", "done": "已完成",
             "escalated": "已转案件"}
MAX_GRIDS = 5_000


class BadTask(DomainError):
    code = "bad_task"


class TaskNotFound(DomainError):
    code = "task_not_found"


class TaskConflict(DomainError):
    code = "task_conflict"


@dataclass(frozen=True)
class Order:
    """A department's task order, as the API's request model checked it (types, lengths,
    the category): the domain checks what only it knows — the deadline against the clock, the
    area against the boundaries in force and the caller's scope, the polygon against the
    limits."""

    title: str
    deadline: dt.datetime
    instructions: str | None = None
    category: str = "general"
    area: list[str] | None = None  # area codes, or:
    polygon: dict | None = None  # a GeoJSON Polygon/MultiPolygon
    crs: str = "wgs84"
    attachments: list[str] = field(default_factory=list)
    department: str | None = None  # a dispatcher or admin ordering on a department's behalf


@dataclass(frozen=True)
class Step:
    """A worker's step on a grid task (accept, progress, complete, escalate)."""

    action: str
    note: str | None = None
    photos: list[str] = field(default_factory=list)
    case_category: str | None = None  # escalate: the case's category
    lon: float | None = None
    lat: float | None = None


def _deadline(at: dt.datetime, now: dt.datetime) -> dt.datetime:
    at = at if at.tzinfo else at.replace(tzinfo=CHINA)
    if at <= now:
        raise BadTask("the deadline has passed already: give a later one", zh="完成时限已过")
    return at


def _department(principal: Principal, order: Order) -> str:
    if principal.role == UserRole.DEPARTMENT:
        if not principal.department:
            raise BadTask("this department credential names no department: re-create it with "
                          "--department", zh="账号未关联部门")
        return principal.department
    # a street dispatcher or admin orders for a department
    return (order.department or "").strip() or principal.name


def _grids_of_codes(locator: Locator, codes: list[str], principal: Principal) -> list[str]:
    grids = [str(c) for c in locator.index.codes]
    found: set[str] = set()
    for code in codes:
        if code not in locator.areas:
            raise BadTask(f"no area {str(code)[:20]!r} in the boundaries in force",
                          zh="区域代码不存在")
        require_scope(principal.scope_code, code)  # an area wider than the scope is refused
        found.update(g for g in grids if g.startswith(code))
    return sorted(found)


def _grids_of_polygon(session: Session, polygon: dict, crs: str, principal: Principal,
                      limits: Limits) -> tuple[list[str], str]:
    try:
        shape = shapely.geometry.shape(polygon)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
        raise BadTask("polygon must be a GeoJSON Polygon or MultiPolygon", zh="绘制区域格式有误") from None
    if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
        raise BadTask("polygon must be a GeoJSON Polygon or MultiPolygon", zh="绘制区域格式有误")
    coords = shapely.get_coordinates(shape)
    x, y = transform_xy(coords[:, 0], coords[:, 1], crs, "wgs84")
    shape = shapely.set_coordinates(shape, np.column_stack([x, y]))
    limits.check_geometry(shape, "the polygon")
    shape = shapely.make_valid(shape)
    rows = session.execute(text(f"""
        SELECT a.code FROM areas a
        WHERE a.generation_id = {ACTIVE_ID_SQL} AND a.level = 'grid'
          AND a.geom && ST_GeomFromText(:wkt, 4326)
          AND ST_Area(ST_Intersection(a.geom, ST_GeomFromText(:wkt, 4326))::geography) > 1
          AND (CAST(:scope AS text) IS NULL OR a.code LIKE :scope || '%')
        ORDER BY a.code"""), {"wkt": shape.wkt, "scope": principal.scope_code}).scalars().all()
    return list(rows), shape.wkt


def _assignee(locator: Locator, grid: str, category: str) -> dict | None:
    workers = locator.workers.get(grid, [])
    role = SPECIALIST.get(category)
    if role is not None:
        specialist = next((w for w in workers if w["role"] == role.value), None)
        if specialist:
            return specialist
    return grid_worker(workers)


def create(session: Session, locator: Locator, principal: Principal, order: Order, *,
           now: dt.datetime, limits: Limits, key: str | None = None) -> tuple[dict, bool]:
    """Place a task and fan it out to its grids; (the answer, created). A resend with the same
    idempotency key answers the task the caller placed the first time; another caller's key is
    refused (layers/access/idempotency.py)."""
    if (found := idempotency.replayed(session, idempotency.TASKS, key, principal.name)) is not None:
        return _created_answer(session, found), False
    title, instructions = order.title.strip(), (order.instructions or "").strip() or None
    category, attachments = order.category, order.attachments
    deadline = _deadline(order.deadline, now)
    department = _department(principal, order)
    if (order.area is None) == (order.polygon is None):
        raise BadTask("give either area (a list of area codes) or polygon (GeoJSON)",
                      zh="请给出区域代码或绘制区域之一")
    wkt = None
    area: dict[str, list[str] | bool]
    if order.area is not None:
        grids = _grids_of_codes(locator, order.area, principal)
        area = {"codes": order.area}
    else:
        assert order.polygon is not None  # exactly one of the two (refused above otherwise)
        grids, wkt = _grids_of_polygon(session, order.polygon, order.crs, principal, limits)
        area = {"polygon": True}
    if not grids:
        raise BadTask("the area covers no grid", zh="该区域内没有网格")
    if len(grids) > MAX_GRIDS:
        raise BadTask(f"the area covers {len(grids):,} grids; at most {MAX_GRIDS:,} per task",
                      zh="区域过大")

    def insert() -> int:
        task_id = session.execute(text("""
            INSERT INTO tasks (key, department, title, instructions, category, deadline,
                               area, attachments, created_by, created_at, geom)
            VALUES (:key, :dep, :title, :ins, :cat, :deadline, CAST(:area AS jsonb),
                    CAST(:att AS jsonb), :by, :now,
                    CASE WHEN CAST(:wkt AS text) IS NULL THEN NULL
                         ELSE ST_GeomFromText(:wkt, 4326) END)
            RETURNING id"""), {
            "key": key, "dep": department, "title": title, "ins": instructions, "cat": category,
            "deadline": deadline, "area": json.dumps(area, ensure_ascii=False),
            "att": json.dumps(attachments, ensure_ascii=False), "by": principal.name,
            "now": now, "wkt": wkt}).scalar_one()
        session.execute(text("""
            INSERT INTO grid_tasks (task_id, grid_code, worker_code, status, updated_at)
            SELECT :task, g, w, 'assigned', :now
            FROM unnest(CAST(:grids AS text[]), CAST(:workers AS text[])) AS t(g, w)"""), {
            "task": task_id, "now": now, "grids": grids,
            "workers": [(_assignee(locator, g, category) or {}).get("code") for g in grids]})
        return task_id

    task_id, created = idempotency.insert_once(session, idempotency.TASKS, key, principal.name,
                                               insert)
    if not created:
        return _created_answer(session, task_id), False
    audit.record(session, principal, "task.create", target=str(task_id), department=department,
                 grids=len(grids))
    return _created_answer(session, task_id), True


def _created_answer(session: Session, task_id: int) -> dict:
    task = session.execute(text("SELECT id, title, department, deadline FROM tasks WHERE id = :t"),
                           {"t": task_id}).one()
    rows = session.execute(text("""
        SELECT gt.id, gt.grid_code, gt.worker_code, w.name
        FROM grid_tasks gt LEFT JOIN workers w ON w.code = gt.worker_code
        WHERE gt.task_id = :t ORDER BY gt.grid_code"""), {"t": task_id}).all()
    return {"id": task.id, "title": task.title, "department": task.department,
            "deadline": task.deadline.isoformat(),
            "grid_tasks": [{"id": r.id, "grid": r.grid_code, "worker": r.worker_code,
                            "worker_name": r.name if r.worker_code else "待配备网格员"}
                           for r in rows]}


def _visible_task(session: Session, principal: Principal, task_id: int):
    """The task, if the caller may see it: a department its own; anyone only with a grid task in
    their scope."""
    task = session.execute(text("""
        SELECT id, title, instructions, category, department, deadline, attachments, created_by,
               created_at FROM tasks t WHERE id = :t AND EXISTS (
                   SELECT 1 FROM grid_tasks gt WHERE gt.task_id = t.id
                   AND (CAST(:scope AS text) IS NULL OR gt.grid_code LIKE :scope || '%'))"""),
        {"t": task_id, "scope": principal.scope_code}).one_or_none()
    if task is None or (principal.role == UserRole.DEPARTMENT
                        and task.department != principal.department):
        raise TaskNotFound(f"no task {task_id} of yours", zh="未找到该任务")
    return task


PROGRESS_SQL = """
SELECT {key} AS code, count(*) AS grids,
       count(*) FILTER (WHERE gt.status = 'assigned') AS assigned,
       count(*) FILTER (WHERE gt.status = 'accepted') AS accepted,
       count(*) FILTER (WHERE gt.status = 'in_progress') AS in_progress,
       count(*) FILTER (WHERE gt.status = 'done') AS done,
       count(*) FILTER (WHERE gt.status = 'escalated') AS escalated,
       count(*) FILTER (WHERE gt.status IN ('assigned', 'accepted', 'in_progress')
                          AND t.deadline < :now) AS overdue,
       count(*) FILTER (WHERE gt.status = 'done' AND gt.completed_at <= t.deadline) AS done_on_time
FROM grid_tasks gt JOIN tasks t ON t.id = gt.task_id
WHERE gt.task_id = :task AND (CAST(:scope AS text) IS NULL OR gt.grid_code LIKE :scope || '%')
GROUP BY 1 ORDER BY 1
"""


def get(session: Session, locator: Locator, principal: Principal, task_id: int, *,
        now: dt.datetime) -> dict:
    """A task with its progress by street, community and grid, and the overdue grid tasks."""
    task = _visible_task(session, principal, task_id)
    params = {"task": task_id, "now": now, "scope": principal.scope_code}

    def progress(key: str) -> list[dict]:
        out = []
        for r in session.execute(text(PROGRESS_SQL.format(key=key)), params).mappings():
            row = dict(r)
            row["name"] = locator.areas.get(row["code"], {}).get("name")
            out.append(row)
        return out

    grids = session.execute(text("""
        SELECT gt.id, gt.grid_code, gt.worker_code, w.name AS worker_name, gt.status,
               gt.accepted_at, gt.completed_at, gt.case_id, gt.updated_at,
               (SELECT note FROM grid_task_events e WHERE e.grid_task_id = gt.id
                ORDER BY e.at DESC, e.id DESC LIMIT 1) AS last_note
        FROM grid_tasks gt LEFT JOIN workers w ON w.code = gt.worker_code
        WHERE gt.task_id = :task AND (CAST(:scope AS text) IS NULL OR gt.grid_code LIKE :scope || '%')
        ORDER BY gt.grid_code"""), params).all()
    overdue = task.deadline < now
    return {
        "id": task.id, "title": task.title, "instructions": task.instructions,
        "category": task.category, "category_zh": CATEGORIES.get(task.category),
        "department": task.department, "deadline": task.deadline.isoformat(),
        "attachments": task.attachments, "created_by": task.created_by,
        "created_at": task.created_at.isoformat(),
        "progress": {"total": progress("'all'")[0] if grids else None,
                     "by_street": progress("left(gt.grid_code, 9)"),
                     "by_community": progress("left(gt.grid_code, 12)")},
        "grid_tasks": [_grid_task_json(r, locator, overdue) for r in grids],
        "overdue": [r.id for r in grids if overdue and r.status in ("assigned", "accepted",
                                                                  "in_progress")],
    }


def _grid_task_json(r, locator: Locator, overdue: bool) -> dict:
    return {"id": r.id, "grid": r.grid_code,
            "grid_name": locator.areas.get(r.grid_code, {}).get("name"),
            "worker": r.worker_code, "worker_name": r.worker_name if r.worker_code else "待配备网格员",
            "status": r.status, "status_zh": STATUS_ZH[r.status],
            "accepted_at": r.accepted_at.isoformat() if r.accepted_at else None,
            "completed_at": r.completed_at.isoformat() if r.completed_at else None,
            "case_id": r.case_id, "last_note": r.last_note,
            "overdue": overdue and r.status in ("assigned", "accepted", "in_progress")}


def listing(session: Session, principal: Principal, *, now: dt.datetime, limit: int = 200) -> dict:
    """The caller's tasks (a department's own; a dispatcher's in their scope), newest first, with
    their progress in numbers."""
    department = principal.department if principal.role == UserRole.DEPARTMENT else None
    scope = principal.scope_code
    rows = session.execute(text("""
        SELECT t.id, t.title, t.department, t.category, t.deadline, t.created_at,
               count(gt.id) AS grids, count(gt.id) FILTER (WHERE gt.status = 'done') AS done,
               count(gt.id) FILTER (WHERE gt.status = 'escalated') AS escalated,
               count(gt.id) FILTER (WHERE gt.status IN ('assigned', 'accepted', 'in_progress')
                                      AND t.deadline < :now) AS overdue
        FROM tasks t JOIN grid_tasks gt ON gt.task_id = t.id
        WHERE (CAST(:dep AS text) IS NULL OR t.department = :dep)
          AND (CAST(:scope AS text) IS NULL OR gt.grid_code LIKE :scope || '%')
        GROUP BY t.id ORDER BY t.created_at DESC, t.id DESC LIMIT :limit"""),
        {"dep": department, "scope": scope, "now": now, "limit": limit}).mappings().all()
    return {"tasks": [{**dict(r), "deadline": r["deadline"].isoformat(),
                       "created_at": r["created_at"].isoformat()} for r in rows]}


def mine(session: Session, locator: Locator, principal: Principal, *, now: dt.datetime) -> dict:
    """A worker's grid tasks: assigned to their worker code (a credential tied to a worker), or
    in their grids; open ones first, by deadline."""
    rows = session.execute(text("""
        SELECT gt.id, gt.grid_code, gt.worker_code, w.name AS worker_name, gt.status,
               gt.accepted_at, gt.completed_at, gt.case_id, gt.updated_at, NULL AS last_note,
               t.id AS task_id, t.title, t.instructions, t.category, t.department, t.deadline,
               t.attachments
        FROM grid_tasks gt JOIN tasks t ON t.id = gt.task_id
        LEFT JOIN workers w ON w.code = gt.worker_code
        WHERE (CAST(:worker AS text) IS NOT NULL AND gt.worker_code = :worker)
           OR (CAST(:worker AS text) IS NULL AND CAST(:scope AS text) IS NOT NULL
               AND gt.grid_code LIKE :scope || '%')
        ORDER BY gt.status IN ('done', 'escalated'), t.deadline, gt.id LIMIT 200"""),
        {"worker": principal.worker, "scope": principal.scope_code}).all()
    return {"tasks": [{**_grid_task_json(r, locator, r.deadline < now), "task": r.task_id,
                       "title": r.title, "instructions": r.instructions,
                       "category_zh": CATEGORIES.get(r.category), "department": r.department,
                       "deadline": r.deadline.isoformat(), "attachments": r.attachments}
                      for r in rows]}


def transition(session: Session, locator: Locator, principal: Principal, grid_task_id: int,
               step: Step, *, now: dt.datetime, key: str | None = None) -> dict:
    """accept | progress | complete | escalate (→ a case) on one grid task of the caller's. A
    resend with the same idempotency key answers the step the caller took the first time (the
    phone's queue may send it twice); another caller's key is refused."""
    row = session.execute(text("""
        SELECT gt.id, gt.grid_code, gt.worker_code, gt.status, gt.task_id, t.title, t.category
        FROM grid_tasks gt JOIN tasks t ON t.id = gt.task_id WHERE gt.id = :id FOR UPDATE OF gt"""),
        {"id": grid_task_id}).one_or_none()
    if row is None or not principal.covers(row.grid_code) or (
            principal.worker and row.worker_code not in (None, principal.worker)):
        raise TaskNotFound(f"no grid task {grid_task_id} of yours", zh="未找到该任务")
    # under the row's lock, so a racing resend waits for the first and answers its step
    taken = idempotency.replayed(session, idempotency.TASK_STEPS, key, principal.name)
    if taken is not None:
        return _step_answer(session, taken)
    starts, goal = ACTIONS[step.action]
    if row.status not in starts:
        raise TaskConflict(f"a grid task that is {row.status} cannot be {step.action}ed",
                           zh=f"任务{STATUS_ZH[row.status]}，不能执行该操作")
    case_id = None
    if step.action == "escalate":
        case_id = _to_case(session, locator, principal, row, step, now)

    def insert() -> int:
        session.execute(text("""
            UPDATE grid_tasks SET status = CAST(:goal AS text), updated_at = :now,
                   accepted_at = CASE WHEN CAST(:goal AS text) = 'accepted' THEN :now
                                      ELSE accepted_at END,
                   completed_at = CASE WHEN CAST(:goal AS text) = 'done' THEN :now
                                       ELSE completed_at END,
                   worker_code = COALESCE(worker_code, :worker),
                   case_id = COALESCE(:case, case_id)
            WHERE id = :id"""), {"goal": goal, "now": now, "worker": principal.worker,
                                 "case": case_id, "id": grid_task_id})
        return session.execute(text("""
            INSERT INTO grid_task_events (grid_task_id, at, actor, action, note, photos, key)
            VALUES (:id, :now, :actor, :action, :note, CAST(:photos AS jsonb), :key)
            RETURNING id"""),
            {"id": grid_task_id, "now": now, "actor": principal.name, "action": step.action,
             "note": step.note, "photos": json.dumps(step.photos), "key": key}).scalar_one()

    event_id, created = idempotency.insert_once(session, idempotency.TASK_STEPS, key,
                                                principal.name, insert)
    if not created:
        return _step_answer(session, event_id)
    audit.record(session, principal, f"task.{step.action}", target=str(grid_task_id),
                 case=case_id)
    return {"id": grid_task_id, "status": goal, "status_zh": STATUS_ZH[goal], "case_id": case_id}


def _step_answer(session: Session, event_id: int) -> dict:
    """What a step answered the first time: the grid task, the status the step led to."""
    step = session.execute(text("""
        SELECT e.grid_task_id, e.action, gt.case_id FROM grid_task_events e
        JOIN grid_tasks gt ON gt.id = e.grid_task_id WHERE e.id = :id"""), {"id": event_id}).one()
    goal = ACTIONS[step.action][1]
    return {"id": step.grid_task_id, "status": goal, "status_zh": STATUS_ZH[goal],
            "case_id": step.case_id if step.action == "escalate" else None}


def _to_case(session: Session, locator: Locator, principal: Principal, row, step: Step,
             now: dt.datetime) -> int:
    """The grid task as a case: at the point given, or inside the grid; the category given."""
    from layers.cases import workflow

    category = step.case_category
    if not category:
        raise BadTask("escalate needs case_category: the case category the department must act "
                      "on (GET /v1/routing)", zh="转案件须选择案件类别")
    if step.lon is not None and step.lat is not None:
        lon, lat = step.lon, step.lat
    else:
        codes = [str(c) for c in locator.index.codes]
        if row.grid_code not in codes or not locator.index.geoms:
            raise BadTask("give lon and lat of the place", zh="请提供位置")
        point = locator.index.geoms[codes.index(row.grid_code)].representative_point()
        lon, lat = point.x, point.y
    created = workflow.create(
        session, locator, source="task", category_code=category, lon=lon, lat=lat,
        actor=principal.name, now=now,
        description=f"【{row.title}】" + (step.note or "网格任务需部门处置"))
    return created.case.id
