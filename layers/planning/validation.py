"""Is a plan publishable? Errors block publishing; warnings are shown, never blocking.

Errors: ``gap`` and ``overlap`` between a community's grids, ``outside_parent`` (a grid sticking
out of its community), ``invalid_geometry``, ``building_split`` (a building across a boundary),
``building_unassigned`` (a building in no grid), ``not_contiguous`` (a grid in pieces, unless it is
marked ``multipart`` on purpose). Warnings: ``no_worker``, ``households_out_of_norm``,
``residents_out_of_norm`` (the norms are settings, urban and rural apart).

Validation works community by community, so an edit re-checks only the communities it touched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import shapely

from gis.metric import area_m2
from gis.topology import metres_to_degrees, sibling_defects
from gridmap.settings import Settings
from layers.planning.state import PlanState
from layers.storage.models import GRID_WORKER_ROLES

MESSAGES = {
    "gap": ("a gap of {m2:,.0f} m² between the grids of community {community}",
            "{community_name}的网格之间有 {m2:,.0f} 平方米空隙"),
    "overlap": ("grids {a} and {b} overlap by {m2:,.0f} m²", "网格 {a} 与 {b} 重叠 {m2:,.0f} 平方米"),
    "outside_parent": ("{m2:,.0f} m² of grid {a} lie outside its community",
                       "网格 {a} 有 {m2:,.0f} 平方米超出所属社区/村"),
    "invalid_geometry": ("grid {a} is not a valid polygon ({reason})", "网格 {a} 的图形无效"),
    "building_split": ("building {building} lies across grids {across}", "建筑 {building} 跨越多个网格"),
    "building_unassigned": ("building {building} is in no grid", "建筑 {building} 不在任何网格内"),
    "not_contiguous": ("grid {a} is in {parts} separate pieces", "网格 {a} 分成 {parts} 块，不连续"),
    "no_worker": ("grid {a} has no grid worker", "网格 {a} 未配置网格员"),
    "households_out_of_norm": ("grid {a} has {value} households; the norm is {low}–{high}",
                               "网格 {a} 有 {value} 户，超出 {low}–{high} 户的标准"),
    "residents_out_of_norm": ("grid {a} has {value} residents; the norm is {low}–{high}",
                              "网格 {a} 有 {value} 人，超出 {low}–{high} 人的标准"),
}
ERRORS = {"gap", "overlap", "outside_parent", "invalid_geometry", "building_split",
          "building_unassigned", "not_contiguous"}
# A building counts as split when more than this share of it lies outside its main grid.
SPLIT_SHARE = 0.05


@dataclass
class Problem:
    kind: str
    severity: str
    grids: list[str]
    message: str
    message_zh: str
    location: dict | None = None  # a GeoJSON point to zoom to
    area_m2: float | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _problem(kind: str, grids: list[str], where: shapely.Geometry | None = None,
             m2: float | None = None, **values) -> Problem:
    en, zh = MESSAGES[kind]
    values = {"a": grids[0] if grids else "", "m2": m2 or 0, **values}
    location = None
    if where is not None and not where.is_empty:
        point = where.representative_point()
        location = {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]}
    return Problem(kind, "error" if kind in ERRORS else "warning", grids, en.format(**values),
                   zh.format(**values), location, round(m2, 1) if m2 is not None else None)


def validate(state: PlanState, settings: Settings, communities: set[str] | None = None
             ) -> list[Problem]:
    """Every problem of the plan, or of some of its communities."""
    wanted = sorted(communities if communities is not None else state.communities)
    problems: list[Problem] = []
    totals = state.totals()
    owner = state.grid_of_buildings()
    for community in wanted:
        if community not in state.communities:
            continue
        problems += _community(state, settings, community, totals, owner)
    return [_named(p, state) for p in problems]


def _named(problem: Problem, state: PlanState) -> Problem:
    """The Chinese message names grids as the planner sees them (义和社区第16网格), not by their
    14-digit codes; the English message and ``grids`` keep the codes for programs."""
    if problem.kind in ("building_split", "building_unassigned"):
        return problem  # names a building, not a grid: its code stays as it is
    for code in problem.grids:
        grid = state.grids.get(code)
        if grid is not None and grid.name:
            problem.message_zh = problem.message_zh.replace(code, f"“{grid.name}”")
    return problem


def _community(state: PlanState, settings: Settings, community: str, totals: dict,
               owner: np.ndarray) -> list[Problem]:
    name, parent, rural = state.communities[community]
    grids = sorted(c for c, g in state.grids.items() if g.community == community)
    problems: list[Problem] = []
    tolerance = metres_to_degrees(settings.plan_tolerance_m, parent.centroid.y)
    valid = []
    for code in grids:
        geom = state.grids[code].geom
        if not geom.is_valid or geom.is_empty:
            problems.append(_problem("invalid_geometry", [code], None,
                                     reason=shapely.is_valid_reason(geom)))
            continue
        valid.append(code)
        parts = [p for p in getattr(geom, "geoms", [geom]) if area_m2(p) > settings.plan_tolerance_m ** 2]
        if len(parts) > 1 and not state.grids[code].multipart:
            problems.append(_problem("not_contiguous", [code], parts[1], parts=len(parts)))
    if valid:
        for defect in sibling_defects(community, parent, valid, [state.grids[c].geom for c in valid],
                                      tolerance):
            m2 = area_m2(defect.piece)
            if defect.kind == "overlap":
                problems.append(_problem("overlap", list(defect.codes), defect.piece, m2,
                                         b=defect.codes[1]))
            elif defect.kind == "outside_parent":
                problems.append(_problem("outside_parent", [defect.codes[0]], defect.piece, m2))
            else:
                problems.append(_problem("gap", [], defect.piece, m2, community=community,
                                         community_name=name))
    elif not grids:
        problems.append(_problem("gap", [], parent, area_m2(parent), community=community,
                                 community_name=name))
    problems += _buildings(state, community, parent, valid, owner)
    problems += _warnings(state, settings, grids, rural, totals)
    return problems


def _buildings(state: PlanState, community: str, parent: shapely.Geometry, grids: list[str],
               owner: np.ndarray) -> list[Problem]:
    problems: list[Problem] = []
    b = state.buildings
    inside = shapely.covered_by(b.points, parent) if len(b.points) else np.array([], dtype=bool)
    mine = [i for i in np.flatnonzero(inside) if owner[i] in grids or not owner[i]]
    owned = [i for i in mine if owner[i]]
    # the common case, vectorised: a building wholly inside its grid
    whole = dict(zip(owned, shapely.covered_by(
        b.shapes[owned], np.asarray([state.grids[owner[i]].geom for i in owned], dtype=object)),
        strict=True)) if owned else {}
    for i in mine:
        if not owner[i]:
            problems.append(_problem("building_unassigned", [], b.points[i], building=b.codes[i]))
            continue
        shape = b.shapes[i]
        if whole[i] or shape.geom_type == "Point":
            continue
        outside = shape.difference(state.grids[owner[i]].geom)
        if not outside.is_empty and outside.area > SPLIT_SHARE * shape.area:
            others = sorted(c for c in state.index.near(shape) if c != owner[i]
                            and state.grids[c].geom.intersects(outside))
            if others:
                problems.append(_problem("building_split", [owner[i], *others], shape,
                                         building=b.codes[i], across=", ".join([owner[i], *others])))
    return problems


def _warnings(state: PlanState, settings: Settings, grids: list[str], rural: bool,
              totals: dict) -> list[Problem]:
    problems: list[Problem] = []
    households = settings.norm_rural_households if rural else settings.norm_urban_households
    residents = settings.norm_rural_residents if rural else settings.norm_urban_residents
    for code in grids:
        grid = state.grids[code]
        if grid.kind != "comprehensive":
            continue  # dedicated grids (schools, parks) have no household norm
        if not any(w["role"] in GRID_WORKER_ROLES for w in state.workers.get(code, [])):
            problems.append(_problem("no_worker", [code], grid.geom))
        for kind, value, (low, high) in (("households_out_of_norm", totals[code]["households"], households),
                                         ("residents_out_of_norm", totals[code]["residents"], residents)):
            if not low <= value <= high:
                problems.append(_problem(kind, [code], grid.geom, value=value, low=low, high=high))
    return problems


def report(problems: list[Problem]) -> dict:
    return {"valid": not any(p.severity == "error" for p in problems),
            "errors": sum(p.severity == "error" for p in problems),
            "warnings": sum(p.severity == "warning" for p in problems),
            "problems": [p.as_dict() for p in problems]}
