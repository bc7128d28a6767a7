"""Minimal-change rebalancing of one community of a plan (gis/rebalance.py on its planning
units): the answer is a diff — units moved, grids changed, what it does to households,
residents, buildings, workers and open cases — that the page previews on the map and applies in
one step (one history entry, so one undo)."""

from __future__ import annotations

import time

import shapely
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.balance import polsby_popper
from gis.rebalance import least_moves
from gis.rebalance import rebalance as search
from gis.redraw import next_grid_code
from gis.unit_graph import network
from gridmap.settings import Settings
from layers.access.policy import Principal
from layers.planning import plans, units
from layers.planning.state import PlanState, load
from layers.storage.models import Plan, PlanUnit


def community_units(session: Session, plan: Plan, state: PlanState, area: str
                    ) -> tuple[list[PlanUnit], dict[int, shapely.Geometry]]:
    """The community's units (computed first if need be) and their shapes."""
    if area not in state.communities:
        raise plans.InvalidEdit("name one community of the plan (its 12-digit code)",
                                zh="请选择规划范围内的一个社区/村")
    units.ensure(session, plan, state, [area])
    found = session.execute(select(PlanUnit, PlanUnit.geom.ST_AsBinary()).where(
        PlanUnit.plan_id == plan.id, PlanUnit.community == area).order_by(PlanUnit.id)).all()
    return [u for u, _ in found], {u.id: shapely.from_wkb(bytes(wkb)) for u, wkb in found}


def _lines(session: Session, shapes: list[shapely.Geometry]) -> list[shapely.Geometry]:
    x0, y0, x1, y1 = map(float, shapely.total_bounds(shapes))
    return list(shapely.from_wkb([bytes(r[0]) for r in session.execute(text("""
        WITH box AS (SELECT ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) AS g)
        SELECT ST_AsBinary(l.geom) FROM roads l, box WHERE l.geom && box.g
        UNION ALL SELECT ST_AsBinary(l.geom) FROM alleys l, box WHERE l.geom && box.g
    """), {"x0": x0, "y0": y0, "x1": x1, "y1": y1})]))


def norm_of(state: PlanState, settings: Settings, community: str) -> tuple[int, int]:
    _name, _geom, rural = state.communities[community]
    return tuple(settings.norm_rural_households if rural else settings.norm_urban_households)


def rebalance(session: Session, plan: Plan, *, area: str, min_polsby_popper: float,
              seconds: float, apply: bool, by: Principal, settings: Settings) -> dict:
    started = time.perf_counter()
    state = load(session, plan)
    rows, shapes = community_units(session, plan, state, area)
    ordered = [shapes[u.id] for u in rows]
    net = network([u.id for u in rows], ordered, [u.households for u in rows],
                  _lines(session, ordered))
    before = [u.grid_code for u in rows]
    fixed = {c for c, g in state.grids.items() if g.community == area and g.kind != "comprehensive"}
    low, high = norm_of(state, settings, area)
    outcome = search(net, before, (low, high), fixed,
                     lambda existing: next_grid_code(area, [*existing, *state.grids]),
                     bound=min_polsby_popper, seconds=seconds)
    answer = diff(session, plan, state, rows, shapes, before, outcome.labels, (low, high))
    answer["impact"]["least_households_to_move"] = least = least_moves(net, before, (low, high), fixed)
    moved = answer["impact"]["households_moved"]
    answer["impact"]["ratio_to_least"] = round(moved / least, 2) if least else None
    answer.update({"area": area, "norm": [low, high], "unresolved": outcome.unresolved,
                   "notes": outcome.notes, "seconds": round(time.perf_counter() - started, 2),
                   "applied": False})
    if apply:
        if outcome.unresolved:
            raise plans.InvalidEdit(
                "the rebalance leaves grids out of norm: " + "; ".join(outcome.notes),
                zh="无法把所有网格调整到标准范围内", unresolved=outcome.unresolved)
        moves = {u.id: label for u, label in zip(rows, outcome.labels, strict=True)}
        names = {code: f"{_name_of(state, outcome.labels, before, code)}（新）"
                 for code in outcome.new_grids}
        edit = units.paint(session, plan, state, moves, by=by, settings=settings,
                           action="rebalance", detail={"community": area}, new_grids=names)
        answer.update({"applied": True, "validation": edit["validation"]})
    return answer


def _name_of(state: PlanState, labels: list[str], before: list[str], code: str) -> str:
    """A new grid is named after the grid most of its units came from."""
    origins = [b for b, label in zip(before, labels, strict=True) if label == code]
    parent = max(sorted(set(origins)), key=origins.count) if origins else ""  # ties: lower code
    return state.grids[parent].name if parent in state.grids else "新网格"


def diff(session: Session, plan: Plan, state: PlanState, rows: list[PlanUnit],
         shapes: dict[int, shapely.Geometry], before: list[str], after: list[str],
         norm: tuple[int, int]) -> dict:
    """What a new assignment of the community's units changes: units and households moved, the
    grids before and after (households, residents, compactness, geometry), workers whose grid
    changes and open cases that lie in moved units."""
    low, high = norm
    moved = [(u, b, a) for u, b, a in zip(rows, before, after, strict=True) if b != a]
    changed = sorted({b for _u, b, _a in moved} | {a for _u, _b, a in moved})
    grids = []
    features = []
    for code in changed:
        was = [u for u, b in zip(rows, before, strict=True) if b == code]
        now = [u for u, a in zip(rows, after, strict=True) if a == code]
        shape = shapely.union_all([shapes[u.id] for u in now], grid_size=1e-9) if now else None
        old = shapely.union_all([shapes[u.id] for u in was], grid_size=1e-9) if was else None
        entry = {"code": code, "name": state.grids[code].name if code in state.grids else None,
                 "new": code not in state.grids, "removed": not now,
                 "households_before": sum(u.households for u in was),
                 "households_after": sum(u.households for u in now),
                 "residents_before": sum(u.residents for u in was),
                 "residents_after": sum(u.residents for u in now),
                 "polsby_popper_before": round(polsby_popper(old), 3) if old else None,
                 "polsby_popper_after": round(polsby_popper(shape), 3) if shape else None,
                 "workers": state.workers.get(code, [])}
        entry["in_norm"] = (not now) or low <= entry["households_after"] <= high
        grids.append(entry)
        if shape is not None:
            features.append({"type": "Feature", "geometry": shapely.geometry.mapping(shape),
                             "properties": {"code": code, "households": entry["households_after"],
                                            "new": entry["new"]}})
    totals = {}
    for label in set(before) | set(after):
        totals.setdefault(label, [0, 0])
    for u, b, a in zip(rows, before, after, strict=True):
        totals[b][0] += u.households
        totals[a][1] += u.households
    comprehensive = [c for c in totals if c not in state.grids or state.grids[c].kind == "comprehensive"]
    households_moved = sum(u.households for u, _b, _a in moved)
    compactness = {side: _mean_pp(rows, shapes, labels, comprehensive)
                   for side, labels in (("before", before), ("after", after))}
    cases = _open_cases(session, [u.id for u, _b, _a in moved], plan)
    return {"units_moved": [{"id": u.id, "from": b, "to": a, "households": u.households}
                            for u, b, a in moved],
            "grids": grids,
            "impact": {"units_moved": len(moved), "households_moved": households_moved,
                       "residents_moved": sum(u.residents for u, _b, _a in moved),
                       "buildings_moved": sum(len(u.buildings) for u, _b, _a in moved),
                       "open_cases_moved": cases,
                       "workers_affected": sorted({w["code"] for g in grids for w in g["workers"]}),
                       "mean_polsby_popper_before": compactness["before"],
                       "mean_polsby_popper_after": compactness["after"],
                       "grids_out_of_norm_before": sum(
                           1 for c in comprehensive if totals[c][0] and not low <= totals[c][0] <= high),
                       "grids_out_of_norm_after": sum(
                           1 for c in comprehensive if totals[c][1] and not low <= totals[c][1] <= high)},
            "preview": {"type": "FeatureCollection", "features": features}}


def _mean_pp(rows: list[PlanUnit], shapes: dict, labels: list[str], grids: list[str]) -> float:
    """Mean Polsby–Popper of the community's comprehensive grids under an assignment."""
    values = []
    for code in grids:
        part = [shapes[u.id] for u, label in zip(rows, labels, strict=True) if label == code]
        if part:
            values.append(polsby_popper(shapely.union_all(part, grid_size=1e-9)))
    return round(sum(values) / len(values), 3) if values else 0.0


def _open_cases(session: Session, unit_ids: list[int], plan: Plan) -> int:
    if not unit_ids:
        return 0
    return int(session.scalar(text("""
        SELECT count(*) FROM cases c JOIN plan_units u ON u.plan_id = :plan AND u.id = ANY(:ids)
          AND ST_Covers(u.geom, c.geom)
        WHERE c.status NOT IN ('closed', 'cancelled', 'merged')
    """), {"plan": plan.id, "ids": unit_ids}))
