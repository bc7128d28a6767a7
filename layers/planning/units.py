"""Painting planning units into grids (Districtr-style): units are computed once per community
of a plan (gis/units.py), stored with their buildings, households and residents, and moved
between the grids of their community; a grid is then the union of its units, so painting can
make no gap and no overlap."""

from __future__ import annotations

import json

import numpy as np
import shapely
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.units import union_of_units, units_of_grid
from gridmap.settings import Settings
from layers.access.policy import Principal
from layers.planning import edits, plans
from layers.planning.history import Change
from layers.planning.state import Grid, PlanState, load
from layers.storage.models import Area, AreaLevel, Plan, PlanUnit


def _communities(state: PlanState, area: str | None) -> list[str]:
    wanted = [c for c in state.communities if area is None or c.startswith(area) or area.startswith(c)]
    if not wanted:
        raise plans.InvalidEdit(f"{area} is not a community or street of this plan",
                                zh="不在规划范围内")
    return sorted(wanted)


UNITS_LOCK = 7_003_001  # pg_advisory_xact_lock's first key: computing a plan's units


def ensure(session: Session, plan: Plan, state: PlanState, communities: list[str]) -> None:
    """Compute and store the units of the communities' grids that have none yet. An edit of
    outlines forgets the units of the grids it changed only (edits.forget_units), so the page's
    reload after a split or a merge cuts two grids, not the community's thirty."""
    def missing_now() -> list[str]:
        have = set(session.scalars(select(PlanUnit.grid_code).where(
            PlanUnit.plan_id == plan.id, PlanUnit.community.in_(communities)).distinct()))
        return sorted(c for c, g in state.grids.items()
                      if g.community in communities and c not in have and not g.geom.is_empty)

    if not missing_now():
        return
    # two readers of the same plan (the page reloads its units after every edit) must not both
    # cut the same grids: one computes them while the other waits, then finds them there
    session.execute(text("SELECT pg_advisory_xact_lock(:kind, :plan)"),
                    {"kind": UNITS_LOCK, "plan": plan.id})
    missing = missing_now()
    if not missing:
        return
    # only the roads and alleys that can cut these grids
    lines = np.asarray(lines_within(session, shapely.total_bounds(
        [state.grids[c].geom for c in missing])), dtype=object)
    b = state.buildings
    ids = np.arange(len(b.codes))
    rows = []
    for code in missing:
        geom = state.grids[code].geom
        near = shapely.intersects(b.points, geom) if len(ids) else np.zeros(0, dtype=bool)
        for unit in units_of_grid(code, geom, list(lines[shapely.intersects(lines, geom)]),
                                  b.points[near], ids[near], b.shapes[near]):
            held = list(unit.buildings)
            rows.append(PlanUnit(
                plan_id=plan.id, community=state.grids[code].community, grid_code=code,
                buildings=[str(b.codes[i]) for i in held],
                households=int(b.households[held].sum()) if held else 0,
                residents=int(b.residents[held].sum()) if held else 0,
                geom=f"SRID=4326;{unit.geom.wkt}"))
    new_ids = session.scalars(text("SELECT nextval('plan_unit_ids') FROM generate_series(1, :n)"),
                              {"n": len(rows)}).all()
    for row, ident in zip(rows, new_ids, strict=True):
        row.id = ident
    session.add_all(rows)
    session.flush()


def lines_within(session: Session, bounds) -> list[shapely.Geometry]:
    """The roads and alleys within ``bounds`` (x0, y0, x1, y1), in the order of their codes: the
    units cut from them, and so every answer built on the units, must not depend on the order
    the database happens to return rows in."""
    return list(shapely.from_wkb([bytes(r[0]) for r in session.execute(text("""
        WITH box AS (SELECT ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) AS g)
        SELECT g FROM (
            SELECT 'road' AS layer, l.code, ST_AsBinary(l.geom) AS g FROM roads l, box
            WHERE l.geom && box.g
            UNION ALL SELECT 'alley', l.code, ST_AsBinary(l.geom) FROM alleys l, box
            WHERE l.geom && box.g) found
        ORDER BY layer DESC, code
    """), dict(zip(("x0", "y0", "x1", "y1"), map(float, bounds), strict=True)))]))


def units(session: Session, plan: Plan, area: str | None) -> dict:
    state = load(session, plan)
    communities = _communities(state, area)
    ensure(session, plan, state, communities)
    rows = session.execute(text("""
        SELECT id, community, grid_code, buildings, households, residents,
               ST_AsGeoJSON(geom, 7) AS g
        FROM plan_units WHERE plan_id = :plan AND community = ANY(:communities) ORDER BY id
    """), {"plan": plan.id, "communities": communities}).all()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": r.id, "geometry": json.loads(r.g),
         "properties": {"id": r.id, "community": r.community, "grid": r.grid_code,
                        "buildings": r.buildings, "households": r.households,
                        "residents": r.residents}} for r in rows]}


def assign(session: Session, plan: Plan, unit_ids: list[int], grid: str, *, by: Principal,
           settings: Settings) -> dict:
    """Paint units into a grid of their community; grids become the unions of their units."""
    state = load(session, plan)
    if grid not in state.grids:
        raise plans.InvalidEdit(f"grid {grid} is not in this plan", zh="该网格不在规划范围内")
    community = state.grids[grid].community
    ensure(session, plan, state, [community])
    chosen = list(session.scalars(select(PlanUnit).where(PlanUnit.plan_id == plan.id,
                                                         PlanUnit.id.in_(unit_ids))))
    if len(chosen) != len(set(unit_ids)):
        raise plans.InvalidEdit("some units are not units of this plan; reload the units",
                                zh="部分单元不存在，请刷新")
    if any(u.community != community for u in chosen):
        raise plans.InvalidEdit("units can only be painted into a grid of their own community",
                                zh="单元只能划入本社区/村的网格")
    return paint(session, plan, state, {u.id: grid for u in chosen}, by=by, settings=settings,
                 action="assign", detail={"grid": grid})


def paint(session: Session, plan: Plan, state: PlanState, moves: dict[int, str], *,
          by: Principal, settings: Settings, action: str, detail: dict,
          new_grids: dict[str, str] | None = None) -> dict:
    """Move units to grids of their community in one history entry (undone in one step);
    ``new_grids`` (code → name) are grids the moves create. Grids become the unions of their
    units; a grid left with no unit is removed."""
    chosen = list(session.scalars(select(PlanUnit).where(PlanUnit.plan_id == plan.id,
                                                         PlanUnit.id.in_(list(moves)))))
    moved = {u.id: [u.grid_code, moves[u.id]] for u in chosen if u.grid_code != moves[u.id]}
    touched = sorted({g for pair in moved.values() for g in pair})
    change = Change(session, plan, by, action, **detail)
    change.before(touched)
    for code, name in sorted((new_grids or {}).items()):
        _new_grid(session, plan, state, code, name)
    for unit in chosen:
        unit.grid_code = moves[unit.id]
    session.flush()
    # A grid is drawn as gis.units.union_of_units draws it — the same function the rebalance
    # and the suggestions measure their answers with, so what they promise is what is drawn:
    # on a 1e-9° grid (about 0.1 mm, the store's "same geometry"), seams closed where the union
    # came apart along them, holes of overlay dust filled. (A union in SQL, ST_UnaryUnion with a
    # grid size, had no seam closing and a GEOS of its own: the two could differ.)
    members: dict[str, list[shapely.Geometry]] = {}
    for code, wkb in session.execute(text("""
        SELECT grid_code, ST_AsBinary(geom) FROM plan_units
        WHERE plan_id = :plan AND grid_code = ANY(:grids) ORDER BY id
    """), {"plan": plan.id, "grids": touched}):
        members.setdefault(code, []).append(shapely.from_wkb(bytes(wkb)))
    emptied = [c for c in touched if c not in members]
    changed = {c: union_of_units(members[c]) for c in touched if c in members}
    edits.write_geometries(session, state, changed)
    if emptied:
        edits.remove_grids(session, state, emptied)
    change.done(units={str(u): pair for u, pair in sorted(moved.items())})
    return edits.edit_answer(state, settings, touched)


def _new_grid(session: Session, plan: Plan, state: PlanState, code: str, name: str) -> None:
    """An empty grid row for units to be painted into (its outline is their union)."""
    community = code[:12]
    parent_id = session.scalar(select(Area.id).where(Area.generation_id == plan.generation_id,
                                                     Area.code == community))
    session.add(Area(generation_id=plan.generation_id, code=code, name=name, level=AreaLevel.GRID,
                     parent_id=parent_id, kind="comprehensive", properties={},
                     geom="SRID=4326;MULTIPOLYGON EMPTY"))
    session.flush()
    state.grids[code] = Grid(code, name, "comprehensive", 1, community, shapely.Polygon(), {})
