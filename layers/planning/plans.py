"""Plans: a planner's draft of the grid boundaries of one area — a draft generation copied from
the active one, plus who made it, the planned worker assignments, and its history.

The flow, in the issue's terms: create (copy the active generation) → edit (replace a polygon with
snapping, split, merge, create, delete, assign workers; every edit bumps the grid's version, and an
edit naming an older version is a 409 with the current state) → validate → impact → publish (422
with the report while there are errors; otherwise the draft becomes the active generation at once,
or on a future day; worker assignments follow the plan; cases keep the grid they were routed to
unless the planner asks to re-route open ones). A street's planner plans only inside the street.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from gridmap.settings import Settings
from layers import clock
from layers.access import audit
from layers.access.policy import Principal, require_scope
from layers.boundaries import generations
from layers.errors import DomainError
from layers.planning import validation
from layers.planning.state import load
from layers.storage.models import (
    Area,
    AreaLevel,
    GenerationStatus,
    Plan,
    PlanEvent,
    PlanStatus,
)


class PlanNotFound(DomainError):
    code = "plan_not_found"


class PlanClosed(DomainError):
    code = "plan_closed"


class StaleVersion(DomainError):
    code = "stale_version"


class InvalidEdit(DomainError):
    code = "invalid_edit"


class PlanInvalid(DomainError):
    code = "plan_invalid"


# -- plans -----------------------------------------------------------------------------------------
def create(session: Session, *, name: str, area_code: str, by: Principal) -> Plan:
    require_scope(by.scope_code, area_code)
    active = generations.active(session)
    if active is None:
        raise InvalidEdit("there are no boundaries to plan from; load some first", zh="尚无网格边界")
    area = session.scalars(select(Area).where(Area.generation_id == active.id,
                                              Area.code == area_code)).one_or_none()
    if area is None or area.level == AreaLevel.GRID:
        raise InvalidEdit(f"{area_code} is no district, street or community; a plan covers one "
                          "of those", zh="规划范围须为区、镇街或社区/村")
    draft = generations.create_draft(session, f"规划：{name}", copy_from=active)
    plan = Plan(name=name, area_code=area_code, generation_id=draft.id, created_by=by.name,
                status=PlanStatus.OPEN)
    session.add(plan)
    session.flush()
    session.execute(text("""
        INSERT INTO plan_assignments (plan_id, grid_code, worker_code, role)
        SELECT :plan, wa.grid_code, w.code, wa.role FROM worker_assignments wa
        JOIN workers w ON w.id = wa.worker_id WHERE wa.grid_code LIKE :area || '%'
    """), {"plan": plan.id, "area": area_code})
    record(session, plan, by, "create", [], area=area_code, generation=draft.id)
    return plan


def get(session: Session, plan_id: int, by: Principal) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise PlanNotFound(f"no plan {plan_id}", zh="未找到该规划")
    require_scope(by.scope_code, plan.area_code)
    return plan


def editable(session: Session, plan_id: int, by: Principal) -> Plan:
    plan = get(session, plan_id, by)
    if plan.status != PlanStatus.OPEN:
        raise PlanClosed(f"plan {plan_id} is {plan.status.value}; start a new plan", zh="该规划已关闭")
    return plan


def list_plans(session: Session, by: Principal) -> list[dict]:
    q = select(Plan).order_by(Plan.id.desc())
    if by.scope_code:
        q = q.where(Plan.area_code.startswith(by.scope_code))
    return [summary(p) for p in session.scalars(q)]


def summary(plan: Plan) -> dict:
    return {"id": plan.id, "name": plan.name, "area": plan.area_code, "status": plan.status.value,
            "created_by": plan.created_by, "created_at": plan.created_at.isoformat(),
            "generation": {"id": plan.generation_id, "status": plan.generation.status.value,
                           "effective_from": _iso(plan.generation.effective_from)}}


def detail(session: Session, plan: Plan) -> dict:
    state = load(session, plan)
    totals = state.totals()
    return {**summary(plan), "grids": [
        {"code": g.code, "name": g.name, "kind": g.kind, "community": g.community,
         "version": g.version, **totals[g.code], "workers": state.workers.get(g.code, []),
         "multipart": g.multipart}
        for g in sorted(state.grids.values(), key=lambda g: g.code)]}


def discard(session: Session, plan: Plan, by: Principal) -> None:
    if plan.status != PlanStatus.OPEN:
        raise PlanClosed(f"plan {plan.id} is {plan.status.value}", zh="该规划已关闭")
    plan.status = PlanStatus.DISCARDED
    session.execute(delete(Area).where(Area.generation_id == plan.generation_id))
    record(session, plan, by, "discard", [])


def history(session: Session, plan: Plan) -> list[dict]:
    return [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "grids": e.grids,
             "detail": e.detail}
            for e in session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id)
                                     .order_by(PlanEvent.id))]


def record(session: Session, plan: Plan, by: Principal, action: str, grids: list[str],
           **detail) -> None:
    session.add(PlanEvent(plan_id=plan.id, actor=by.name, action=action, grids=grids,
                          detail=detail))
    audit.record(session, by, f"plan.{action}", f"plan {plan.id}", grids=grids or None)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# -- validation, impact, publish ---------------------------------------------------------------------
def validate(session: Session, plan: Plan, settings: Settings) -> dict:
    return validation.report(validation.validate(load(session, plan), settings))


def impact(session: Session, plan: Plan) -> dict:
    """What publishing would change, against the active generation."""
    active = generations.active(session)
    params = {"draft": plan.generation_id, "active": active.id, "area": plan.area_code}
    moved = session.execute(text("""
        WITH b AS (
            SELECT b.code, b.households, b.population, ST_PointOnSurface(b.geom) AS p
            FROM buildings b, (SELECT ST_Union(geom) AS geom FROM areas WHERE generation_id = :active
                               AND level = 'grid' AND code LIKE :area || '%') a
            WHERE b.geom && a.geom
        ), located AS (
            SELECT b.code, b.households, b.population,
                   (SELECT code FROM areas WHERE generation_id = :active AND level = 'grid'
                      AND ST_Covers(geom, b.p) ORDER BY code LIMIT 1) AS before,
                   (SELECT code FROM areas WHERE generation_id = :draft AND level = 'grid'
                      AND ST_Covers(geom, b.p) ORDER BY code LIMIT 1) AS after
            FROM b
        )
        SELECT count(*) FILTER (WHERE before IS DISTINCT FROM after),
               COALESCE(sum(households) FILTER (WHERE before IS DISTINCT FROM after), 0),
               COALESCE(sum(population) FILTER (WHERE before IS DISTINCT FROM after), 0)
        FROM located
    """), params).one()
    open_cases = session.execute(text("""
        SELECT count(*) FROM cases c
        WHERE c.status NOT IN ('closed', 'cancelled', 'merged') AND c.grid_code LIKE :area || '%'
          AND c.grid_code IS DISTINCT FROM (
              SELECT code FROM areas WHERE generation_id = :draft AND level = 'grid'
                AND ST_Covers(geom, c.geom) ORDER BY code LIMIT 1)
    """), params).scalar()
    workers = _worker_loads(session, plan, active.id)
    changed = session.execute(text("""
        SELECT COALESCE(a.code, d.code) AS code,
               ST_AsGeoJSON(ST_SymDifference(COALESCE(a.geom, 'SRID=4326;POLYGON EMPTY'::geometry),
                                             COALESCE(d.geom, 'SRID=4326;POLYGON EMPTY'::geometry)), 7) AS g
        FROM (SELECT code, geom FROM areas WHERE generation_id = :active AND level = 'grid'
              AND code LIKE :area || '%') a
        FULL JOIN (SELECT code, geom FROM areas WHERE generation_id = :draft AND level = 'grid'
                   AND code LIKE :area || '%') d ON a.code = d.code
        WHERE a.code IS NULL OR d.code IS NULL OR NOT ST_Equals(a.geom, d.geom)
    """), params).all()
    return {"buildings_moved": moved[0], "households_moved": int(moved[1]),
            "residents_moved": int(moved[2]), "open_cases_moved": open_cases, "workers": workers,
            "changed_areas": {"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"code": r.code}, "geometry": json.loads(r.g)}
                for r in changed if r.g]}}


def _worker_loads(session: Session, plan: Plan, active_id: int) -> list[dict]:
    rows = session.execute(text("""
        WITH hh AS (
            SELECT g.generation_id, g.code, COALESCE(sum(b.households), 0) AS households
            FROM areas g LEFT JOIN buildings b ON ST_Covers(g.geom, ST_PointOnSurface(b.geom))
            WHERE g.generation_id IN (:active, :draft) AND g.level = 'grid' AND g.code LIKE :area || '%'
            GROUP BY 1, 2
        ), before AS (
            SELECT w.code, w.name, sum(hh.households) AS households
            FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
            JOIN hh ON hh.generation_id = :active AND hh.code = wa.grid_code
            WHERE wa.role IN ('full_time', 'part_time') GROUP BY 1, 2
        ), after AS (
            SELECT pa.worker_code AS code, sum(hh.households) AS households
            FROM plan_assignments pa JOIN hh ON hh.generation_id = :draft AND hh.code = pa.grid_code
            WHERE pa.plan_id = :plan AND pa.role IN ('full_time', 'part_time') GROUP BY 1
        )
        SELECT COALESCE(b.code, a.code) AS code, COALESCE(b.name, w.name) AS name,
               COALESCE(b.households, 0) AS households_before, COALESCE(a.households, 0) AS households_after
        FROM before b FULL JOIN after a ON a.code = b.code LEFT JOIN workers w ON w.code = a.code
        ORDER BY 1
    """), {"active": active_id, "draft": plan.generation_id, "area": plan.area_code,
           "plan": plan.id}).all()
    return [{"code": r.code, "name": r.name, "households_before": int(r.households_before),
             "households_after": int(r.households_after)} for r in rows]


def publish(session: Session, plan: Plan, *, effective_from: dt.date | None, today: dt.date,
            reroute_open_cases: bool, by: Principal, settings: Settings) -> dict:
    """Validate, then make the draft the active generation (or schedule it) in this
    transaction; 422 with the report while there are errors."""
    problems = validation.validate(load(session, plan), settings)
    report = validation.report(problems)
    if not report["valid"]:
        raise PlanInvalid(f"the plan has {report['errors']} error(s); fix them before publishing",
                          zh="规划存在错误，无法发布", validation=report)
    try:
        generations.publish(session, plan.generation, effective_from, today=today)
    except generations.GenerationError as exc:
        raise InvalidEdit(str(exc), zh="生效日期有误") from None
    plan.status, plan.published_at = PlanStatus.PUBLISHED, clock.now()
    rerouted = 0
    if plan.generation.status == GenerationStatus.ACTIVE:
        apply_assignments(session, plan)
        if reroute_open_cases:
            rerouted = reroute_cases(session, plan, by)
    record(session, plan, by, "publish", [], effective_from=_iso(plan.generation.effective_from),
           status=plan.generation.status.value, reroute_open_cases=reroute_open_cases)
    return {**summary(plan), "validation": report, "open_cases_rerouted": rerouted}


def apply_assignments(session: Session, plan: Plan) -> None:
    """The plan's workers replace today's for every grid of its area (old and new codes)."""
    session.execute(text("""
        DELETE FROM worker_assignments WHERE grid_code LIKE :area || '%'
    """), {"area": plan.area_code})
    session.execute(text("""
        INSERT INTO worker_assignments (worker_id, grid_code, role)
        SELECT w.id, pa.grid_code, pa.role FROM plan_assignments pa
        JOIN workers w ON w.code = pa.worker_code WHERE pa.plan_id = :plan
        ON CONFLICT DO NOTHING
    """), {"plan": plan.id})
    session.execute(text("SELECT pg_notify('gridmap_data', 'plan')"))


def reroute_cases(session: Session, plan: Plan, by: Principal) -> int:
    """Open cases whose place now lies in another grid move to it, with an event saying so."""
    rows = session.execute(text("""
        WITH moved AS (
            SELECT c.id, c.grid_code AS before,
                   (SELECT code FROM areas WHERE generation_id = :draft AND level = 'grid'
                      AND ST_Covers(geom, c.geom) ORDER BY code LIMIT 1) AS after
            FROM cases c
            WHERE c.status NOT IN ('closed', 'cancelled', 'merged') AND c.grid_code LIKE :area || '%'
        )
        UPDATE cases c SET grid_code = m.after, generation_id = :draft,
               assignee_worker_code = COALESCE((
                   SELECT worker_code FROM plan_assignments WHERE plan_id = :plan
                     AND grid_code = m.after ORDER BY role LIMIT 1), c.assignee_worker_code),
               updated_at = now()
        FROM moved m WHERE c.id = m.id AND m.after IS NOT NULL AND m.after <> m.before
        RETURNING c.id, m.before, m.after, c.status::text AS status
    """), {"draft": plan.generation_id, "area": plan.area_code, "plan": plan.id}).all()
    for r in rows:
        session.execute(text("""
            INSERT INTO case_events (case_id, at, actor, action, from_status, to_status, note, photo_ids)
            VALUES (:id, now(), :actor, 'reroute', :status, :status, :note, '[]')
        """), {"id": r.id, "actor": by.name, "status": r.status,
               "note": f"网格调整（规划 {plan.id}）：{r.before} → {r.after}"})
    return len(rows)


def activate_due(session: Session, today: dt.date) -> None:
    """A scheduled plan's day has come: its generation becomes active and its workers take over."""
    activated = generations.activate_due(session, today)
    if activated is None:
        return
    plan = session.scalars(select(Plan).where(Plan.generation_id == activated.id)).first()
    if plan is not None:
        apply_assignments(session, plan)
