"""Publishing without undoing anyone's work: rebasing, scheduled plans, cancelling.

A plan's draft is a copy of the whole district's boundaries, taken when the plan began (its
*base*). Publishing it must not bring back, outside what the plan changed, boundaries that
others published since — nor may a plan scheduled for a later day bring back, on that day,
what was published in between. So a plan is compared community by community (communities are
what grids tile) with its base:

- the plan's **own** communities are those whose grids or planned workers differ from the base;
- **published since** are those whose grids or workers differ between the base and today;
- a **rebase** takes today's boundaries for everything but the plan's own communities (the rest
  of the district, and communities only others changed) and makes today the new base. Where both
  changed a community, the planner says which to keep (``keep``: ``plan`` or ``published``);
  until then publishing is refused (409, the communities named). A rebase is a history entry.

Publishing a plan rebases it first (when nothing conflicts), then checks every *scheduled* plan
sharing a community with it: whichever takes effect later would replace the other's drawing of
that community, so it is refused (422, the plans and communities named) unless the caller
says, for each, ``cancel`` (it goes back to an open draft, nothing lost) or ``rebase`` (both
stand; in the shared communities the later one's drawing is in force from its day). A scheduled
plan is rebased again on its day, keeping its own communities, so what was published before then
elsewhere stays. Non-plan generations scheduled with ``gridmap generations publish`` replace
everything on their day: a plan's publish is refused while one is pending.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

from layers.access import audit
from layers.access.policy import Principal
from layers.boundaries import generations
from layers.planning.history import Change, apply_side
from layers.planning.plans import (
    WORKERS_OF,
    PlanClosed,
    RebaseNeeded,
    ScheduleConflict,
    base_assignments,
    record,
)
from layers.storage.models import GenerationStatus, Plan, PlanStatus, PlanUnit, UserRole

# who acts when a scheduled plan's day comes (the API's minute job)
SCHEDULER = Principal(name="gridmap:scheduler", role=UserRole.ADMIN, scope_code=None,
                      client="local")

def _grids_differ(session: Session, area: str, a: int, b: int) -> set[str]:
    """Communities (12-digit codes) of ``area`` whose grids differ between two generations."""
    return set(session.scalars(text("""
        WITH x AS (SELECT code, name, kind, properties, geom FROM areas
                   WHERE generation_id = :a AND level = 'grid' AND code LIKE :area || '%'),
             y AS (SELECT code, name, kind, properties, geom FROM areas
                   WHERE generation_id = :b AND level = 'grid' AND code LIKE :area || '%')
        SELECT DISTINCT left(COALESCE(x.code, y.code), 12) FROM x FULL JOIN y ON x.code = y.code
        WHERE x.code IS NULL OR y.code IS NULL OR x.name <> y.name
           OR x.kind IS DISTINCT FROM y.kind OR x.properties <> y.properties
           OR ST_AsBinary(x.geom) <> ST_AsBinary(y.geom)
    """), {"a": a, "b": b, "area": area}))


def _workers_differ(left: dict, right: dict) -> set[str]:
    return {grid[:12] for grid in set(left) | set(right) if left.get(grid) != right.get(grid)}


def planned_assignments(session: Session, plan: Plan) -> dict:
    rows = session.execute(text(f"""
        SELECT grid_code, {WORKERS_OF} AS w FROM (
            SELECT grid_code, worker_code, role::text AS role FROM plan_assignments
            WHERE plan_id = :plan) x GROUP BY grid_code
    """), {"plan": plan.id}).all()
    return {r.grid_code: r.w for r in rows}


def own_communities(session: Session, plan: Plan) -> set[str]:
    """The communities the plan changed (grids or planned workers) against its base."""
    base = plan.base_generation_id or generations.require_active(session).id
    return (_grids_differ(session, plan.area_code, plan.generation_id, base)
            | _workers_differ(planned_assignments(session, plan), plan.base_assignments or {}))


def published_since(session: Session, plan: Plan) -> set[str]:
    """The communities of the plan's area whose grids or workers changed since its base."""
    active = generations.active(session)
    if plan.base_generation_id is None or active is None:
        return set()
    return (_grids_differ(session, plan.area_code, active.id, plan.base_generation_id)
            | _workers_differ(base_assignments(session, plan.area_code),
                              plan.base_assignments or {}))


def status(session: Session, plan: Plan) -> dict:
    """Is the plan drawn on today's boundaries? Its own communities, those published since, and
    the conflicts between them."""
    active = generations.active(session)
    current = plan.base_generation_id == (active.id if active else None) and \
        (plan.base_assignments or {}) == base_assignments(session, plan.area_code)
    own = own_communities(session, plan)
    since = set() if current else published_since(session, plan)
    return {"base_generation": plan.base_generation_id, "current": current,
            "own_communities": sorted(own), "published_since": sorted(since),
            "conflicts": sorted(own & since)}


def rebase(session: Session, plan: Plan, by: Principal, *, keep: str | None = None) -> dict:
    """Move the plan onto today's boundaries (see the module's docstring); a history entry.
    ``keep`` decides the communities both changed: ``plan`` or ``published``."""
    active = generations.require_active(session)
    own, since = own_communities(session, plan), published_since(session, plan)
    conflicts = own & since
    if conflicts and keep not in ("plan", "published"):
        raise RebaseNeeded(
            f"communities {', '.join(sorted(conflicts))} were changed by this plan and by "
            "boundaries published since it began; rebase it and say which to keep "
            "(keep: plan | published)",
            zh="本规划修改过的社区/村已被其他规划修改并发布，请先同步并选择保留哪一方",
            conflicts=sorted(conflicts), published_by=_published_by(session, plan, conflicts))
    take = since - own if keep != "published" else since
    codes = sorted(set(session.scalars(text("""
        SELECT DISTINCT code FROM areas WHERE generation_id IN (:draft, :active)
          AND level = 'grid' AND left(code, 12) = ANY(:take)
    """), {"draft": plan.generation_id, "active": active.id, "take": sorted(take)})))
    change = Change(session, plan, by, "rebase", onto=active.id, took=sorted(take),
                    kept=sorted(own & since) if keep == "plan" else [])
    change.before(codes)
    session.execute(text("""
        INSERT INTO plan_event_grids (event_id, code, side, name, kind, properties, workers, geom)
        SELECT :event, c.code, 'after', a.name, a.kind, a.properties,
               COALESCE((SELECT jsonb_agg(jsonb_build_array(w.code, wa.role::text)
                                          ORDER BY w.code, wa.role::text)
                         FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
                         WHERE wa.grid_code = c.code), '[]'::jsonb), a.geom
        FROM unnest(CAST(:codes AS text[])) AS c(code)
        LEFT JOIN areas a ON a.generation_id = :active AND a.code = c.code AND a.level = 'grid'
    """), {"event": change.event.id, "codes": codes, "active": active.id})
    _sync_outside(session, plan, active.id)
    apply_side(session, plan, change.event.id, "after")
    if take:
        # the table's DELETE, not the ORM's (which would also evict the session's PlanUnits)
        session.execute(cast(Table, PlanUnit.__table__).delete().where(
            PlanUnit.plan_id == plan.id, PlanUnit.community.in_(sorted(take))))
    plan.base_generation_id = active.id
    plan.base_assignments = base_assignments(session, plan.area_code)
    session.flush()
    change.event.grids = codes
    audit.record(session, by, "plan.rebase", f"plan {plan.id}", grids=codes or None)
    return {"onto": active.id, "took": sorted(take), "kept": sorted(own & since)
            if keep == "plan" else [], "grids": codes}


def _published_by(session: Session, plan: Plan, communities: set[str]) -> list[dict]:
    """Plans published since this one began that changed these communities (for the message)."""
    rows = session.execute(text("""
        SELECT DISTINCT p.id, p.name, g.effective_from FROM plans p
        JOIN generations g ON g.id = p.generation_id
        JOIN plan_events e ON e.plan_id = p.id
        WHERE p.status = 'published' AND p.id <> :plan AND p.published_at >= :since
          AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(e.grids) c
                      WHERE left(c, 12) = ANY(:communities))
        ORDER BY p.id
    """), {"plan": plan.id, "since": plan.created_at, "communities": sorted(communities)}).all()
    return [{"plan": r.id, "name": r.name, "effective_from": r.effective_from.isoformat()
             if r.effective_from else None} for r in rows]


def _sync_outside(session: Session, plan: Plan, active_id: int) -> None:
    """Everything of the draft the plan may not change (other areas, every level above grids)
    becomes what is active now; the plan's own grids keep their rows (their parents' ids stay)."""
    params = {"draft": plan.generation_id, "active": active_id, "area": plan.area_code}
    outside = "NOT (d.level = 'grid' AND d.code LIKE :area || '%')"
    session.execute(text(f"""
        UPDATE areas d SET name = a.name, kind = a.kind, properties = a.properties, geom = a.geom
        FROM areas a
        WHERE d.generation_id = :draft AND a.generation_id = :active AND a.code = d.code
          AND {outside}
          AND (ST_AsBinary(d.geom) <> ST_AsBinary(a.geom) OR d.name <> a.name
               OR d.kind IS DISTINCT FROM a.kind OR d.properties <> a.properties)
    """), params)
    session.execute(text(f"""
        DELETE FROM areas d WHERE d.generation_id = :draft AND {outside}
          AND d.level = 'grid'
          AND NOT EXISTS (SELECT 1 FROM areas a WHERE a.generation_id = :active AND a.code = d.code)
    """), params)
    session.execute(text("""
        INSERT INTO areas (generation_id, code, name, level, kind, properties, geom)
        SELECT :draft, a.code, a.name, a.level, a.kind, a.properties, a.geom FROM areas a
        WHERE a.generation_id = :active AND NOT (a.level = 'grid' AND a.code LIKE :area || '%')
          AND NOT EXISTS (SELECT 1 FROM areas d WHERE d.generation_id = :draft AND d.code = a.code)
    """), params)
    session.execute(text("""
        UPDATE areas AS child SET parent_id = parent.id
        FROM areas AS parent
        WHERE child.generation_id = :draft AND parent.generation_id = :draft
          AND child.level <> 'district' AND child.parent_id IS NULL
          AND parent.code = left(child.code, CASE child.level WHEN 'street' THEN 6
                                                              WHEN 'community' THEN 9 ELSE 12 END)
    """), params)


def scheduled_conflicts(session: Session, plan: Plan, effective_from: dt.date) -> list[dict]:
    """Scheduled plans sharing a community with this one, and scheduled generations that are
    no plan's (they replace everything on their day)."""
    own = own_communities(session, plan)
    found = []
    for other in session.scalars(select(Plan).join(Plan.generation).where(
            Plan.id != plan.id, Plan.status == PlanStatus.PUBLISHED,
            Plan.generation.has(status=GenerationStatus.SCHEDULED)).order_by(Plan.id)):
        shared = own & own_communities(session, other)
        if shared:
            day = other.generation.effective_from
            assert day is not None  # generations.publish schedules a generation with its day
            later = other if day >= effective_from else plan
            found.append({"plan": other.id, "name": other.name, "effective_from": day.isoformat(),
                          "communities": sorted(shared), "in_force_after_both": later.id})
    orphans = session.execute(text("""
        SELECT g.id, g.name, g.effective_from FROM generations g
        WHERE g.status = 'scheduled' AND NOT EXISTS (SELECT 1 FROM plans p WHERE p.generation_id = g.id)
    """)).all()
    found += [{"generation": r.id, "name": r.name, "effective_from": r.effective_from.isoformat(),
               "communities": "all"} for r in orphans]
    return found


def check_scheduled(session: Session, plan: Plan, effective_from: dt.date,
                    decisions: dict[int, str], by: Principal, today: dt.date) -> list[dict]:
    """Refuse (422) while a conflicting scheduled plan has no decision; carry the decisions out
    (``cancel`` → back to an open draft) and return what was decided."""
    conflicts = scheduled_conflicts(session, plan, effective_from)
    undecided = [c for c in conflicts if "generation" in c
                 or decisions.get(c["plan"]) not in ("cancel", "rebase")]
    if undecided:
        raise ScheduleConflict(
            f"{len(undecided)} scheduled plan(s) or generation(s) change the same communities; "
            "for each plan say `cancel` or `rebase` (scheduled: {id: decision}); a generation "
            "scheduled outside planning must be cancelled with `gridmap generations cancel`",
            zh="与已排期的规划涉及相同的社区/村，请选择取消或同步后再发布",
            conflicts=conflicts)
    for c in conflicts:
        if decisions[c["plan"]] == "cancel":
            cancel(session, session.get_one(Plan, c["plan"]), by, today=today)
        c["decision"] = decisions[c["plan"]]
    return conflicts


def cancel(session: Session, plan: Plan, by: Principal, *, today: dt.date) -> dict:
    """A scheduled plan goes back to an open draft before its day; nothing of it is lost."""
    generation = plan.generation
    if plan.status != PlanStatus.PUBLISHED or generation.status != GenerationStatus.SCHEDULED:
        raise PlanClosed(f"plan {plan.id} is not scheduled (it is {plan.status.value}, its "
                         f"boundaries {generation.status.value}); only a scheduled plan can be "
                         "cancelled", zh="只有已排期、尚未生效的规划可以取消")
    day = generation.effective_from
    assert day is not None  # generations.publish schedules a generation with its day
    if day <= today:
        raise PlanClosed(f"plan {plan.id} took effect on {day}", zh="该规划已生效，不能取消")
    generation.status, generation.effective_from, generation.published_at = (
        GenerationStatus.DRAFT, None, None)
    plan.status, plan.published_at = PlanStatus.OPEN, None
    session.flush()
    record(session, plan, by, "cancel", [], effective_from=day.isoformat())
    return {"id": plan.id, "status": plan.status.value, "cancelled_effective_from": day.isoformat()}


def activate_due(session: Session, today: dt.date, apply_assignments) -> list[int]:
    """The minute job: activate every scheduled generation whose day has come, earliest first;
    a plan's is first rebased onto what is in force (keeping its own communities), so what was
    published meanwhile elsewhere stays. Returns the generations activated."""
    done = []
    while (due := generations.next_due(session, today)) is not None:
        plan = session.scalars(select(Plan).where(Plan.generation_id == due.id)).first()
        own = set()
        if plan is not None:
            rebase(session, plan, SCHEDULER, keep="plan")
            own = own_communities(session, plan)
        generations.activate(session, due)
        if plan is not None:
            apply_assignments(session, plan, own)
        done.append(due.id)
    return done
