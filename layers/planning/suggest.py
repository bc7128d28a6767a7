"""Balanced grid suggestions for a community of a plan (gis/balance.py, GerryChain ReCom on the
unit adjacency graph), reported side by side with today's grids; applied into the plan on
request in one step — new grids are made, emptied ones removed, and one undo takes it back.
ReCom draws a fresh partition; for the smallest change that fixes grids out of norm, see
rebalance.py."""

from __future__ import annotations

import time

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.balance import BalanceError, partition, polsby_popper, unit_graph
from gis.redraw import next_grid_code
from gis.units import union_of_units
from gridmap.settings import Settings
from layers.access.policy import Principal
from layers.planning import plans, units
from layers.planning.state import load
from layers.storage.models import Plan, PlanUnit


def suggest(session: Session, plan: Plan, *, area: str, households_min: int, households_max: int,
            grids: int | None, seconds: float, apply: bool, by: Principal,
            settings: Settings) -> dict:
    started = time.perf_counter()
    state = load(session, plan)
    if area not in state.communities:
        raise plans.InvalidEdit("suggestions are made for one community of the plan; name its "
                                "12-digit code", zh="请选择一个社区/村")
    if not 0 < households_min <= households_max:
        raise plans.InvalidEdit("households_min must be positive and at most households_max",
                                zh="户数范围有误")
    units.ensure(session, plan, state, [area])
    found = session.execute(select(PlanUnit, PlanUnit.geom.ST_AsBinary()).where(
        PlanUnit.plan_id == plan.id, PlanUnit.community == area).order_by(PlanUnit.id)).all()
    rows = [unit for unit, _wkb in found]
    shapes = {unit.id: shapely.from_wkb(bytes(wkb)) for unit, wkb in found}
    total = sum(u.households for u in rows)
    current = {u.id: u.grid_code for u in rows}
    count = grids or max(1, round(total / ((households_min + households_max) / 2)))
    target = total / count
    epsilon = max(0.02, min(0.5, (households_max - households_min) / 2 / max(target, 1)))
    graph = unit_graph([u.id for u in rows], [shapes[u.id] for u in rows], [u.households for u in rows])
    try:
        assignment = partition(graph, current, count, target, epsilon, seconds)
    except BalanceError as exc:
        raise plans.InvalidEdit(str(exc), zh="无法生成均衡方案") from None
    labels = _label(assignment, current, sorted(set(current.values())), area)
    proposal = _report(rows, shapes, labels, households_min, households_max)
    today = _report(rows, shapes, current, households_min, households_max)
    moved = sum(1 for u in rows if labels[u.id] != current[u.id])
    answer = {"area": area, "grids": count, "target_households": round(target, 1),
              "suggestion": {**proposal, "units_moved": moved,
                             "assignment": {str(k): v for k, v in sorted(labels.items())}},
              "current": {**today, "units_moved": 0},
              "seconds": round(time.perf_counter() - started, 2), "applied": False}
    if apply:
        edit = _apply(session, plan, state, labels, current, by, settings)
        answer.update({"applied": True, "validation": edit["validation"]})
    return answer


def _label(assignment: dict, current: dict, grids: list[str], community: str) -> dict[int, str]:
    """Name each suggested part after a grid of today so that as many units as possible keep
    their grid (an optimal matching, not a greedy one: a part whose best grids were taken still
    gets a free one); parts beyond today's grids get the community's next free codes."""
    from scipy.optimize import linear_sum_assignment

    parts = sorted(set(assignment.values()), key=str)
    overlap = np.zeros((len(parts), len(grids)))
    for unit, part in assignment.items():
        if current[unit] in grids:
            overlap[parts.index(part), grids.index(current[unit])] += 1
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    names = {parts[r]: grids[c] for r, c in zip(rows, cols, strict=True)}
    taken = list(grids)
    for part in parts:
        if part not in names:
            names[part] = next_grid_code(community, taken)
            taken.append(names[part])
    return {unit: names[part] for unit, part in assignment.items()}


def _report(rows: list[PlanUnit], shapes: dict, labels: dict, low: int, high: int) -> dict:
    households: dict[str, int] = {}
    for u in rows:
        households[labels[u.id]] = households.get(labels[u.id], 0) + u.households
    compact = [polsby_popper(union_of_units([shapes[u.id] for u in rows if labels[u.id] == g]))
               for g in sorted(households)]
    values = list(households.values())
    deviation = max(max(low - v, v - high, 0) for v in values)
    return {"households_per_grid": dict(sorted(households.items())),
            "households_min": min(values), "households_max": max(values),
            "max_deviation_from_norm": deviation,
            "grids_out_of_norm": sum(1 for v in values if not low <= v <= high),
            "mean_polsby_popper": round(sum(compact) / len(compact), 3)}


def _apply(session: Session, plan: Plan, state, labels: dict, current: dict, by: Principal,
           settings: Settings) -> dict:
    """Paint the suggestion in one history entry: new parts become new grids (named after the
    grid most of their units come from), grids left with no unit are removed."""
    made = sorted(set(labels.values()) - set(current.values()))
    names = {}
    for code in made:
        origins = [current[u] for u, label in labels.items() if label == code]
        parent = max(set(origins), key=origins.count)
        names[code] = f"{state.grids[parent].name}（新）" if parent in state.grids else "新网格"
    return units.paint(session, plan, state, labels, by=by, settings=settings, action="suggest",
                       detail={"community": next(iter(labels.values()))[:12]}, new_grids=names)
