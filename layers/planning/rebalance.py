"""Minimal-change rebalancing of one community of a plan (gis/rebalance.py on its planning
units): the answer is a diff — units moved, grids changed, what it does to households,
residents, buildings, workers and open cases — that the page previews on the map and applies in
one step (one history entry, so one undo)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import shapely
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.balance import polsby_popper
from gis.rebalance import SLACK, Outcome, least_moves
from gis.rebalance import rebalance as search
from gis.redraw import next_grid_code
from gis.unit_graph import Network, network, without_edges
from gis.units import union_of_units
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


def norm_of(state: PlanState, settings: Settings, community: str) -> tuple[int, int]:
    _name, _geom, rural = state.communities[community]
    return settings.norm_rural_households if rural else settings.norm_urban_households


def rebalance(session: Session, plan: Plan, *, area: str, min_polsby_popper: float,
              seconds: float, apply: bool, by: Principal, settings: Settings) -> dict:
    started = time.perf_counter()
    state = load(session, plan)
    rows, shapes = community_units(session, plan, state, area)
    ordered = [shapes[u.id] for u in rows]
    net = network([u.id for u in rows], ordered, [u.households for u in rows],
                  units.lines_within(session, shapely.total_bounds(ordered)))
    before = [u.grid_code for u in rows]
    fixed = {c for c, g in state.grids.items() if g.community == area and g.kind != "comprehensive"}
    low, high = norm_of(state, settings, area)
    outcome = drawable(net, ordered, before, (low, high), fixed,
                       lambda existing: next_grid_code(area, [*existing, *state.grids]),
                       bound=min_polsby_popper,
                       seconds=max(0.0, seconds - (time.perf_counter() - started)))
    answer = diff(session, plan, state, rows, shapes, before, outcome.labels, (low, high))
    answer["impact"]["least_households_to_move"] = least = least_moves(net, before, (low, high), fixed)
    moved = answer["impact"]["households_moved"]
    answer["impact"]["ratio_to_least"] = round(moved / least, 2) if least else None
    loose = _below_bound(answer["grids"], min_polsby_popper)
    answer.update({"area": area, "norm": [low, high],
                   "unresolved": sorted({*outcome.unresolved, *loose}),
                   "notes": outcome.notes + [
                       f"{code}: Polsby–Popper {pp} is below the bound {min_polsby_popper}"
                       for code, pp in loose.items()],
                   "seconds": round(time.perf_counter() - started, 2), "applied": False})
    if apply:
        if answer["unresolved"]:
            raise plans.InvalidEdit(
                "the rebalance leaves grids out of norm: " + "; ".join(answer["notes"]),
                zh="无法把所有网格调整到标准范围内", unresolved=answer["unresolved"])
        moves = {u.id: label for u, label in zip(rows, outcome.labels, strict=True)}
        names = _new_names(state, outcome.labels, before, outcome.new_grids)
        edit = units.paint(session, plan, state, moves, by=by, settings=settings,
                           action="rebalance", detail={"community": area}, new_grids=names)
        answer.update({"applied": True, "validation": edit["validation"]})
    return answer


def drawable(net: Network, shapes: list[shapely.Geometry], before: list[str],
             norm: tuple[int, int], fixed: set[str], next_code: Callable[[list[str]], str], *,
             bound: float, seconds: float) -> Outcome:
    """gis.rebalance's answer, searched again (up to twice) without the edges between units
    that the plan would draw apart (:func:`_apart`): never a grid in two pieces."""
    deadline = time.monotonic() + seconds
    for _attempt in range(3):
        outcome = search(net, before, norm, fixed, next_code, bound=bound,
                         seconds=max(0.0, deadline - time.monotonic()))
        apart = _apart(shapes, before, outcome.labels)
        if not apart:
            break
        net = without_edges(net, apart)
    return outcome


def _apart(shapes: list[shapely.Geometry], before: list[str], after: list[str]
           ) -> set[tuple[int, int]]:
    """Pairs of units (indexes) the unit graph has as neighbours but whose grid's outline, as
    the plan will draw it (gis.units.union_of_units), comes out in separate parts. Since the
    union closes seams narrower than the graph's own tolerance and the graph counts a pair as
    neighbours only when their union is one piece, this should find nothing; it stays as the
    guard that an answer is never applied as a grid in two pieces: each changed grid of
    ``after`` is drawn, its units in different parts are told apart, and the search runs again
    without those edges."""
    pairs: set[tuple[int, int]] = set()
    changed = sorted({a for b, a in zip(before, after, strict=True) if b != a})
    for code in changed:
        members = [i for i, label in enumerate(after) if label == code]
        outline = union_of_units([shapes[i] for i in members])
        parts = list(shapely.get_parts(outline))
        if len(parts) < 2:
            continue
        part_of = {i: max(range(len(parts)), key=lambda k: parts[k].intersection(shapes[i]).area)
                   for i in members}
        pairs |= {(i, j) for i in members for j in members
                  if i < j and part_of[i] != part_of[j] and shapes[i].distance(shapes[j]) < 1e-7}
    return pairs


def _below_bound(grids: list[dict], bound: float) -> dict[str, float]:
    """Grids of the diff (all changed) whose reported (geodesic) Polsby–Popper breaks the bound the search was
    given — ``bound``, or for a grid less compact than that already, what it had less SLACK. The
    search keeps a margin above it (gis.rebalance.MARGIN); this is the check that it sufficed."""
    def allowed(before: float | None) -> float:
        return bound if before is None else min(bound, before - SLACK)

    return {g["code"]: g["polsby_popper_after"] for g in grids
            if not g["removed"] and g["polsby_popper_after"] < allowed(g["polsby_popper_before"])}


def _new_names(state: PlanState, labels: list[str], before: list[str], codes: list[str]
               ) -> dict[str, str]:
    """New grids are named after the grid most of their units came from, with （新）; two carved
    out of one grid are told apart by number (（新1）, （新2）, in code order)."""
    parents = {code: _name_of(state, labels, before, code) for code in sorted(codes)}
    out = {}
    for code, parent in parents.items():
        twins = [c for c, p in parents.items() if p == parent]
        out[code] = f"{parent}（新{twins.index(code) + 1 if len(twins) > 1 else ''}）"
    return out


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
    grids: list[dict[str, Any]] = []
    features = []
    for code in changed:
        was = [u for u, b in zip(rows, before, strict=True) if b == code]
        now = [u for u, a in zip(rows, after, strict=True) if a == code]
        shape = union_of_units([shapes[u.id] for u in now]) if now else None
        old = union_of_units([shapes[u.id] for u in was]) if was else None
        entry: dict[str, Any] = {
                 "code": code, "name": state.grids[code].name if code in state.grids else None,
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
    totals: dict[str, list[int]] = {}
    for label in sorted(set(before) | set(after)):
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
            values.append(polsby_popper(union_of_units(part)))
    return round(sum(values) / len(values), 3) if values else 0.0


def _open_cases(session: Session, unit_ids: list[int], plan: Plan) -> int:
    if not unit_ids:
        return 0
    return int(session.scalar(text("""
        SELECT count(*) FROM cases c JOIN plan_units u ON u.plan_id = :plan AND u.id = ANY(:ids)
          AND ST_Covers(u.geom, c.geom)
        WHERE c.status NOT IN ('closed', 'cancelled', 'merged')
    """), {"plan": plan.id, "ids": unit_ids}))
