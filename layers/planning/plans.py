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

import shapely
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from gridmap.settings import Settings
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


class GeometryTooLarge(DomainError):
    """A geometry with more vertices than ``max_vertices``: refused before any work on it."""

    code = "geometry_too_large"


class ScheduleConflict(DomainError):
    """Publishing would be undone (or would undo) a plan scheduled for the same communities."""

    code = "schedule_conflict"


class RebaseNeeded(DomainError):
    """Boundaries the plan changed were changed and published by someone else since it began."""

    code = "rebase_needed"


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
                status=PlanStatus.OPEN, base_generation_id=active.id,
                base_assignments=base_assignments(session, area_code))
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
    """The plan, to change: its row is locked until the transaction ends, so two writes to one
    plan (two tabs, a double click on 发布) run one after the other — the second sees what the
    first did (a closed plan, a grown history) instead of racing it."""
    plan = get(session, plan_id, by)
    session.refresh(plan, with_for_update=True)
    if plan.status != PlanStatus.OPEN:
        raise PlanClosed(f"plan {plan_id} is {plan.status.value}; start a new plan", zh="该规划已关闭")
    return plan


def list_plans(session: Session, by: Principal) -> list[dict]:
    q = select(Plan).order_by(Plan.id.desc())
    if by.scope_code:
        q = q.where(Plan.area_code.startswith(by.scope_code))
    return [summary(p) for p in session.scalars(q)]


def is_scheduled(plan: Plan) -> bool:
    return plan.generation.status == GenerationStatus.SCHEDULED


def summary(plan: Plan) -> dict:
    return {"id": plan.id, "name": plan.name, "area": plan.area_code, "status": plan.status.value,
            "created_by": plan.created_by, "created_at": plan.created_at.isoformat(),
            "published_at": plan.published_at.isoformat() if plan.published_at else None,
            "scheduled": is_scheduled(plan), "editable": plan.status == PlanStatus.OPEN,
            "generation": {"id": plan.generation_id, "status": plan.generation.status.value,
                           "effective_from": iso(plan.generation.effective_from)}}


def detail(session: Session, plan: Plan, settings: Settings | None = None) -> dict:
    """The plan and its grids: counts, workers, version, the household norm of each grid's
    community, its neighbours and a colour index (neighbours never share one)."""
    state = load(session, plan)
    totals = state.totals()
    neighbours = state.neighbours()
    colours = colouring(neighbours)
    norms = {}
    if settings is not None:
        norms = {code: list(settings.norm_rural_households if rural
                            else settings.norm_urban_households)
                 for code, (_n, _g, rural) in state.communities.items()}
    return {**summary(plan),
            "communities": [{"code": c, "name": n, "households_norm": norms.get(c)}
                            for c, (n, _g, _r) in sorted(state.communities.items())],
            "grids": [
                {"code": g.code, "name": g.name, "kind": g.kind, "community": g.community,
                 "version": g.version, **totals[g.code], "workers": state.workers.get(g.code, []),
                 "multipart": g.multipart, "neighbours": neighbours.get(g.code, []),
                 "colour": colours.get(g.code, 0)}
                for g in sorted(state.grids.values(), key=lambda g: g.code)]}


def colouring(neighbours: dict[str, list[str]]) -> dict[str, int]:
    """A colour index per grid such that neighbours differ (greedy, largest degree first: at
    most one more colour than the largest number of neighbours, usually four or five)."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(neighbours)
    graph.add_edges_from((a, b) for a, near in neighbours.items() for b in near)
    return nx.greedy_color(graph, strategy="largest_first")


def export(session: Session, plan: Plan) -> dict:
    """The plan's grids in the interchange format (a file QGIS opens, or `upload` takes back)."""
    state = load(session, plan)
    totals = state.totals()
    return {"type": "FeatureCollection", "name": f"plan-{plan.id}", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g.geom),
         "properties": {"code": g.code, "name": g.name, "parent_code": g.community,
                        "kind": g.kind, **g.properties, **totals[g.code],
                        "workers": ",".join(w["code"] for w in state.workers.get(g.code, []))}}
        for g in sorted(state.grids.values(), key=lambda g: g.code)]}


def discard(session: Session, plan: Plan, by: Principal) -> None:
    if plan.status != PlanStatus.OPEN:
        raise PlanClosed(f"plan {plan.id} is {plan.status.value}", zh="该规划已关闭")
    plan.status = PlanStatus.DISCARDED
    session.execute(delete(Area).where(Area.generation_id == plan.generation_id))
    record(session, plan, by, "discard", [])


def record(session: Session, plan: Plan, by: Principal, action: str, grids: list[str],
           **detail) -> None:
    session.add(PlanEvent(plan_id=plan.id, actor=by.name, action=action, grids=grids,
                          detail=detail))
    audit.record(session, by, f"plan.{action}", f"plan {plan.id}", grids=grids or None)


def iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# A grid's planned or actual workers as one comparable value, in one order everywhere.
WORKERS_OF = "jsonb_agg(jsonb_build_array(worker_code, role) ORDER BY worker_code, role)"


def base_assignments(session: Session, area: str) -> dict:
    """Today's worker assignments of an area's grids: {grid: [[worker, role], …]}."""
    rows = session.execute(text(f"""
        SELECT grid_code, {WORKERS_OF} AS w FROM (
            SELECT wa.grid_code, w.code AS worker_code, wa.role::text AS role
            FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
            WHERE wa.grid_code LIKE :area || '%') x GROUP BY grid_code
    """), {"area": area}).all()
    return {r.grid_code: r.w for r in rows}


def validate(session: Session, plan: Plan, settings: Settings) -> dict:
    return validation.report(validation.validate(load(session, plan), settings))


