"""Impact and publishing of a plan: what publishing would move (buildings, households,
residents, open cases, workers' loads), and the one door through which a plan's boundaries come
into force — now or on a future day — with its workers, optionally re-routing open cases. The
rules that keep other plans' work (rebasing, scheduled plans) are in schedule.py."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.settings import Settings
from layers import clock
from layers.access.policy import Principal
from layers.boundaries import generations
from layers.planning import schedule, validation
from layers.planning.plans import (
    InvalidEdit,
    PlanClosed,
    PlanInvalid,
    iso,
    record,
    summary,
)
from layers.planning.state import load
from layers.storage import listener
from layers.storage.models import GenerationStatus, Plan, PlanStatus


def impact(session: Session, plan: Plan) -> dict:
    """What publishing would change, against the active generation."""
    active = generations.require_active(session)
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
            reroute_open_cases: bool, by: Principal, settings: Settings,
            scheduled: dict[int, str] | None = None) -> dict:
    """Rebase onto what others published since (409 while they changed the same communities),
    validate (422 with the report while there are errors), check scheduled plans (422 while one
    shares a community without a decision), then make the draft the active generation (or
    schedule it) in this transaction."""
    if plan.status != PlanStatus.OPEN:
        raise PlanClosed(f"plan {plan.id} is {plan.status.value}", zh="该规划已发布或已放弃")
    day = effective_from or today
    if not schedule.status(session, plan)["current"]:
        schedule.rebase(session, plan, by)
    problems = validation.validate(load(session, plan), settings)
    report = validation.report(problems)
    if not report["valid"]:
        raise PlanInvalid(f"the plan has {report['errors']} error(s); fix them before publishing",
                          zh="规划存在错误，无法发布", validation=report)
    decided = schedule.check_scheduled(session, plan, day, scheduled or {}, by, today)
    own = schedule.own_communities(session, plan)
    try:
        generations.publish(session, plan.generation, effective_from, today=today, plan_door=True)
    except generations.GenerationError as exc:
        raise InvalidEdit(str(exc), zh="生效日期有误") from None
    plan.status, plan.published_at = PlanStatus.PUBLISHED, clock.now()
    rerouted = 0
    if plan.generation.status == GenerationStatus.ACTIVE:
        apply_assignments(session, plan, own)
        if reroute_open_cases:
            rerouted = reroute_cases(session, plan, by)
    record(session, plan, by, "publish", [], effective_from=iso(plan.generation.effective_from),
           status=plan.generation.status.value, reroute_open_cases=reroute_open_cases,
           communities=sorted(own), scheduled_plans=decided or None)
    return {**summary(plan), "validation": report, "open_cases_rerouted": rerouted,
            "communities": sorted(own), "scheduled_plans": decided}


def apply_assignments(session: Session, plan: Plan, communities: set[str]) -> None:
    """The plan's workers replace today's in the communities the plan changed (grids or
    workers): elsewhere in its area, assignments made since it began stay as they are."""
    if not communities:
        return
    params = {"plan": plan.id, "communities": sorted(communities)}
    session.execute(text("""
        DELETE FROM worker_assignments WHERE left(grid_code, 12) = ANY(:communities)
    """), params)
    session.execute(text("""
        INSERT INTO worker_assignments (worker_id, grid_code, role)
        SELECT w.id, pa.grid_code, pa.role FROM plan_assignments pa
        JOIN workers w ON w.code = pa.worker_code
        WHERE pa.plan_id = :plan AND left(pa.grid_code, 12) = ANY(:communities)
        ON CONFLICT DO NOTHING
    """), params)
    listener.data_changed(session, "plan")


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


def activate_due(session: Session, today: dt.date) -> list[int]:
    """A scheduled plan's day has come: rebased onto what is in force (keeping its own
    communities), its generation becomes active and its workers take over (see schedule.py)."""
    return schedule.activate_due(session, today, apply_assignments)
