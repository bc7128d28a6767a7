"""Edits of a plan's grids: replace a polygon (neighbours snap along and give way), split along a
line, merge adjacent grids, draw a new grid, delete one, set its workers. Each edit checks the
grid's version (a stale one is a 409 with the current state), bumps it, records who did what,
and answers with the changed grids and the fresh validation of the communities it touched."""

from __future__ import annotations

from contextlib import contextmanager

import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from gis.crs import parse_crs, transform_geometry
from gis.redraw import RedrawError, as_polygon, merge, next_grid_code, replace, split
from gis.shapes import ShapeError, ShapeTooLarge, parse
from gis.topology import metres_to_degrees, polygonal
from gridmap.settings import Settings
from layers.access.policy import Principal
from layers.planning import validation
from layers.planning.history import Change
from layers.planning.plans import GeometryTooLarge, InvalidEdit, StaleVersion
from layers.planning.state import Grid, PlanState, load
from layers.storage.models import (
    Area,
    AreaLevel,
    Plan,
    PlanAssignment,
    PlanUnit,
    Worker,
    WorkerRole,
)

# An upload is whole communities from desktop GIS: bounded in rows and in vertices overall.
MAX_UPLOAD_FEATURES = 2_000
UPLOAD_VERTEX_FACTOR = 5


def _grid_in_plan(state: PlanState, code: str) -> None:
    if code not in state.grids:
        raise InvalidEdit(f"grid {code} is not in this plan's area {state.plan.area_code}",
                          zh="该网格不在规划范围内")


def _check_version(state: PlanState, code: str, version: int | None) -> None:
    grid = state.grids[code]
    if version is not None and version != grid.version:
        raise StaleVersion(
            f"grid {code} is at version {grid.version}, not {version}: someone changed it since "
            "you loaded it; reload and edit again", zh="该网格已被他人修改，请刷新后重试",
            current={"code": code, "version": grid.version,
                     "geometry": shapely.geometry.mapping(grid.geom)})


def write_geometries(session: Session, state: PlanState, changed: dict[str, shapely.Geometry]) -> None:
    for code, geom in changed.items():
        multi = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])
        session.execute(text("""
            UPDATE areas SET geom = ST_GeomFromWKB(:wkb, 4326), version = version + 1
            WHERE generation_id = :g AND code = :code
        """), {"wkb": shapely.to_wkb(multi), "g": state.plan.generation_id, "code": code})
        state.grids[code].geom = geom
        state.grids[code].version += 1
        state.index.put(code, geom)


def edit_answer(state: PlanState, settings: Settings, changed: list[str]) -> dict:
    """Every edit answers with the changed grids and the fresh validation of the communities it
    touched (the whole plan is checked on publish)."""
    touched = {c[:12] for c in changed} & set(state.communities)
    problems = validation.validate(state, settings, touched)
    totals = state.totals()
    return {"changed": [{"code": c, "version": state.grids[c].version, **totals[c],
                         "geometry": shapely.geometry.mapping(state.grids[c].geom)}
                        for c in changed if c in state.grids],
            "removed": [c for c in changed if c not in state.grids],
            "validation": validation.report(problems)}


def answer_for(session: Session, plan: Plan, codes: list[str], settings: Settings) -> dict:
    """The answer of an edit made elsewhere (undo, redo, restore): the grids and validation."""
    return edit_answer(load(session, plan), settings, codes)


def _snap_degrees(state: PlanState, settings: Settings) -> float:
    _name, community, _rural = next(iter(state.communities.values()))
    return metres_to_degrees(settings.plan_snap_m, community.centroid.y)


# How far outside the plan's communities a drawn shape may reach (then it is clipped): a click
# past the edge is normal, a shape kilometres away is a mistake, and refusing it early bounds the
# work it could cause.
REACH_M = 500.0


def shape_of(state: PlanState, geometry, kinds: tuple[str, ...], settings: Settings, what: str,
             *, crs: str = "wgs84") -> shapely.Geometry:
    """A client's geometry, checked (structure, coordinate ranges, vertex limit) before any
    GEOS work, in WGS84, and (a polygon) near the plan's area; InvalidEdit or GeometryTooLarge
    otherwise."""
    try:
        shape = parse(geometry, kinds, max_vertices=settings.max_vertices,
                      geographic=parse_crs(crs).is_geographic, what=what)
        shape = transform_geometry(shape, crs)
    except ShapeTooLarge as exc:
        raise GeometryTooLarge(str(exc), zh=f"图形的拐点超过 {exc.limit:,} 个，请简化后再提交",
                               limit=exc.limit) from None
    except (ShapeError, ValueError) as exc:
        raise InvalidEdit(str(exc), zh="图形有误：坐标或格式不正确") from None
    if shape.geom_type == "LineString":
        return shape  # a split line is drawn past the grid's edges; only its crossing counts
    x0, y0, x1, y1 = shapely.total_bounds([g for _n, g, _r in state.communities.values()])
    reach = metres_to_degrees(REACH_M, (y0 + y1) / 2)
    sx0, sy0, sx1, sy1 = shape.bounds
    if sx0 < x0 - reach or sy0 < y0 - reach or sx1 > x1 + reach or sy1 > y1 + reach:
        raise InvalidEdit(f"{what} reaches more than {REACH_M:.0f} m outside the plan's area "
                          f"{state.plan.area_code}; draw inside it", zh="图形超出规划范围")
    return shape


def _clipped(state: PlanState, community: str, geom: shapely.Geometry) -> shapely.Geometry:
    """A drawn polygon stops at its community's edge (free-hand clicks run past it)."""
    _name, outline, _rural = state.communities[community]
    if outline.covers(geom):
        return geom
    clipped = polygonal(shapely.make_valid(geom.intersection(outline)))
    if clipped.is_empty:
        raise InvalidEdit(f"the polygon lies outside community {community}", zh="图形不在该社区/村内")
    return clipped


@contextmanager
def _fitting(zh: str):
    """A drawn polygon fitted to its neighbours: what cannot be done is a 422 saying why (GEOS
    errors on valid input included), never a 500."""
    try:
        yield
    except RedrawError as exc:
        raise InvalidEdit(str(exc), zh=zh) from None
    except shapely.errors.GEOSException as exc:
        raise InvalidEdit(f"the polygon could not be fitted to its neighbours ({exc}); simplify "
                          "it or draw it again", zh="图形无法与相邻网格衔接，请简化后重画") from None


def replace_geometry(session: Session, plan: Plan, code: str, geometry: dict, version: int | None,
                     *, by: Principal, settings: Settings) -> dict:
    state = load(session, plan)
    _grid_in_plan(state, code)
    _check_version(state, code, version)
    shape = shape_of(state, geometry, ("Polygon", "MultiPolygon"), settings, "the geometry")
    with _fitting("图形有误"):
        new = _clipped(state, state.grids[code].community, as_polygon(shape, "the geometry"))
        changed = replace(code, new, state.index, _snap_degrees(state, settings))
    changed = {c: g for c, g in changed.items() if c in state.grids}  # never outside the plan
    change = Change(session, plan, by, "replace", target=code)
    change.before(changed)
    forget_units(session, state, changed)
    write_geometries(session, state, changed)
    change.done()
    return edit_answer(state, settings, sorted(changed))


def split_grid(session: Session, plan: Plan, code: str, line: dict, *, by: Principal,
               settings: Settings) -> dict:
    state = load(session, plan)
    _grid_in_plan(state, code)
    grid = state.grids[code]
    shape = shape_of(state, line, ("LineString",), settings, "the split line")
    try:
        kept, cut = split(grid.geom, shape)
    except RedrawError as exc:
        raise InvalidEdit(str(exc), zh="分割线有误：请从网格一侧边界外画到另一侧，只穿过该网格一次") from None
    except shapely.errors.GEOSException as exc:
        raise InvalidEdit(f"the line could not cut the grid ({exc}); draw it again",
                          zh="分割线有误") from None
    new_code = next_grid_code(grid.community, [c for c in state.grids])
    parent_id = session.scalar(select(Area.parent_id).where(
        Area.generation_id == plan.generation_id, Area.code == code))
    change = Change(session, plan, by, "split", target=code)
    change.before([code, new_code])
    session.add(Area(generation_id=plan.generation_id, code=new_code, name=f"{grid.name}（分）",
                     level=AreaLevel.GRID, parent_id=parent_id, kind=grid.kind,
                     properties={}, geom=from_shape(shapely.MultiPolygon([cut]), srid=4326)))
    session.flush()
    forget_units(session, state, [code])
    write_geometries(session, state, {code: kept})
    state.grids[new_code] = Grid(new_code, f"{grid.name}（分）", grid.kind, 1, grid.community, cut, {})
    state.index.put(new_code, cut)
    change.done()
    return {"grids": [code, new_code], **edit_answer(state, settings, [code, new_code])}


def merge_grids(session: Session, plan: Plan, codes: list[str], *, by: Principal,
                settings: Settings) -> dict:
    state = load(session, plan)
    codes = sorted(set(codes))
    if len(codes) < 2:
        raise InvalidEdit("name at least two grids to merge", zh="至少选择两个网格")
    for code in codes:
        _grid_in_plan(state, code)
    if len({state.grids[c].community for c in codes}) != 1:
        raise InvalidEdit("grids of different communities cannot be merged", zh="只能合并同一社区/村的网格")
    try:
        merged = merge([state.grids[c].geom for c in codes])
    except RedrawError as exc:
        raise InvalidEdit(str(exc), zh="网格不相邻，无法合并") from None
    kept, gone = codes[0], codes[1:]
    change = Change(session, plan, by, "merge", kept=kept)
    change.before(codes)
    forget_units(session, state, codes)
    remove_grids(session, state, gone)
    write_geometries(session, state, {kept: merged})
    change.done()
    return {"grid": kept, **edit_answer(state, settings, [kept, *gone])}


def create_grid(session: Session, plan: Plan, geometry: dict, *, name: str, community: str | None,
                kind: str, by: Principal, settings: Settings) -> dict:
    state = load(session, plan)
    shape = shape_of(state, geometry, ("Polygon", "MultiPolygon"), settings, "the geometry")
    try:
        geom = as_polygon(shape, "the geometry")
    except RedrawError as exc:
        raise InvalidEdit(str(exc), zh="图形有误") from None
    community = community or next(
        (c for c, (_n, g, _r) in state.communities.items() if g.contains(geom.representative_point())),
        None)
    if community not in state.communities:
        raise InvalidEdit("the new grid lies in no community of this plan; draw it inside one or "
                          "name its community", zh="新网格不在规划范围内的社区/村中")
    code = next_grid_code(community, list(state.grids))
    with _fitting("新网格完全覆盖了其他网格"):
        geom = _clipped(state, community, geom)
        state.index.put(code, geom)
        changed = replace(code, geom, state.index, _snap_degrees(state, settings))
    changed = {c: g for c, g in changed.items() if c == code or c in state.grids}
    parent_id = session.scalar(select(Area.id).where(Area.generation_id == plan.generation_id,
                                                     Area.code == community))
    change = Change(session, plan, by, "create_grid", name=name)
    change.before(changed)
    new = changed.pop(code)
    session.add(Area(generation_id=plan.generation_id, code=code, name=name, level=AreaLevel.GRID,
                     parent_id=parent_id, kind=kind, properties={},
                     geom=from_shape(new if new.geom_type == "MultiPolygon"
                                     else shapely.MultiPolygon([new]), srid=4326)))
    session.flush()
    state.grids[code] = Grid(code, name, kind, 1, community, new, {})
    state.index.put(code, new)
    forget_units(session, state, [code, *changed])
    write_geometries(session, state, changed)
    change.done()
    return {"grid": code, **edit_answer(state, settings, sorted([code, *changed]))}


def delete_grid(session: Session, plan: Plan, code: str, *, by: Principal,
                settings: Settings) -> dict:
    state = load(session, plan)
    _grid_in_plan(state, code)
    community = state.grids[code].community
    change = Change(session, plan, by, "delete_grid")
    change.before([code])
    forget_units(session, state, [code])
    remove_grids(session, state, [code])
    change.done()
    problems = validation.validate(state, settings, {community})
    return {"removed": [code], "validation": validation.report(problems)}


def forget_units(session: Session, state: PlanState, codes) -> None:
    """A geometry edit invalidates the painting units of the grids it changed (units.ensure
    cuts them again from their new outlines; the other grids keep theirs)."""
    if codes:
        session.execute(delete(PlanUnit).where(PlanUnit.plan_id == state.plan.id,
                                               PlanUnit.grid_code.in_(sorted(codes))))


def remove_grids(session: Session, state: PlanState, codes: list[str]) -> None:
    session.execute(delete(Area).where(Area.generation_id == state.plan.generation_id,
                                       Area.code.in_(codes)))
    session.execute(delete(PlanAssignment).where(PlanAssignment.plan_id == state.plan.id,
                                                 PlanAssignment.grid_code.in_(codes)))
    for code in codes:
        state.index.remove(code)
        del state.grids[code]
        state.workers.pop(code, None)


def _foreign_workers(session: Session, codes: list[str], scope: str | None) -> list[str]:
    """Workers who today cover a grid outside ``scope``: another street's (or community's)
    workers, whom this planner may not take (a worker covering no grid is free to plan)."""
    if scope is None or not codes:
        return []
    return list(session.scalars(text("""
        SELECT DISTINCT w.code FROM workers w JOIN worker_assignments wa ON wa.worker_id = w.id
        WHERE w.code = ANY(:codes) AND wa.grid_code NOT LIKE :scope || '%' ORDER BY 1
    """), {"codes": codes, "scope": scope}))


def available_workers(session: Session, plan: Plan, by: Principal) -> list[dict]:
    """Workers of the planner's area (covering a grid inside it today) and workers covering no
    grid: those :func:`set_workers` accepts. No phone numbers: the page does not need them."""
    rows = session.execute(text("""
        SELECT w.code, w.name, w.role::text AS role,
               COALESCE(array_agg(wa.grid_code ORDER BY wa.grid_code)
                        FILTER (WHERE wa.grid_code IS NOT NULL), '{}') AS grids
        FROM workers w LEFT JOIN worker_assignments wa ON wa.worker_id = w.id
        GROUP BY w.id
        HAVING bool_and(wa.grid_code IS NULL OR CAST(:scope AS text) IS NULL
                        OR wa.grid_code LIKE :scope || '%')
           AND (bool_or(wa.grid_code LIKE left(:area, 9) || '%') OR bool_and(wa.grid_code IS NULL))
        ORDER BY w.code
    """), {"scope": by.scope_code, "area": plan.area_code}).all()
    return [{"code": r.code, "name": r.name, "role": r.role, "grids": list(r.grids)} for r in rows]


def set_workers(session: Session, plan: Plan, code: str, workers: list[dict], *, by: Principal,
                settings: Settings) -> dict:
    state = load(session, plan)
    _grid_in_plan(state, code)
    known = {w.code: w for w in session.scalars(select(Worker).where(
        Worker.code.in_([w.get("code") for w in workers])))}
    foreign = _foreign_workers(session, sorted(known), by.scope_code)
    if foreign:
        raise InvalidEdit(f"worker(s) {', '.join(foreign)} cover grids outside your area "
                          f"{by.scope_code}; ask their own planner or an administrator",
                          zh="不能调配本辖区以外的网格员", workers=foreign)
    rows = []
    for w in workers:
        if w.get("code") not in known:
            raise InvalidEdit(f"no worker {w.get('code')!r}", zh="未找到该网格员")
        try:
            role = WorkerRole(w.get("role") or known[w["code"]].role.value)
        except ValueError:
            raise InvalidEdit(f"role must be one of {', '.join(r.value for r in WorkerRole)}",
                              zh="网格员角色有误") from None
        rows.append(PlanAssignment(plan_id=plan.id, grid_code=code, worker_code=w["code"], role=role))
    change = Change(session, plan, by, "workers", workers=[w["code"] for w in workers])
    change.before([code])
    session.execute(delete(PlanAssignment).where(PlanAssignment.plan_id == plan.id,
                                                 PlanAssignment.grid_code == code))
    session.add_all(rows)
    session.flush()
    state.workers[code] = [{"code": r.worker_code, "name": known[r.worker_code].name,
                            "role": r.role.value} for r in rows]
    change.done()
    return edit_answer(state, settings, [code])


def upload(session: Session, plan: Plan, collection: dict, *, crs: str, by: Principal,
           settings: Settings) -> dict:
    """Replace the grids of whole communities with those of a GeoJSON FeatureCollection in the
    interchange format (``code``, ``name``, ``parent_code``, ``kind``; other properties kept):
    a community or street redrawn in desktop GIS comes into the plan in one step. Every row is
    checked first; one bad row refuses the upload with a row-level report and writes nothing."""
    state = load(session, plan)
    features = collection.get("features") if isinstance(collection, dict) else None
    if collection.get("type") != "FeatureCollection" or not isinstance(features, list) or not features:
        raise InvalidEdit("send a GeoJSON FeatureCollection of grids", zh="请上传网格的 GeoJSON 要素集合")
    if len(features) > MAX_UPLOAD_FEATURES:
        raise InvalidEdit(f"an upload holds at most {MAX_UPLOAD_FEATURES} grids",
                          zh=f"一次最多上传 {MAX_UPLOAD_FEATURES} 个网格")
    rows, problems = [], []
    budget = settings.max_vertices * UPLOAD_VERTEX_FACTOR
    for n, feature in enumerate(features, start=1):
        props = dict((feature or {}).get("properties") or {}) if isinstance(feature, dict) else {}
        code, parent = str(props.pop("code", "") or ""), str(props.pop("parent_code", "") or "")
        name, kind = str(props.pop("name", "") or ""), str(props.pop("kind", "") or "comprehensive")
        try:
            geom = as_polygon(shape_of(state, feature.get("geometry") if isinstance(feature, dict)
                                       else None, ("Polygon", "MultiPolygon"), settings,
                                       "the geometry", crs=crs), "the geometry")
        except (RedrawError, InvalidEdit) as exc:
            problems.append({"row": n, "code": code, "problem": str(exc), "problem_zh":
                             getattr(exc, "zh", None) or "图形无效：须为有效的面（Polygon 或 MultiPolygon）"})
            continue
        budget -= shapely.get_num_coordinates(geom)
        if budget < 0:
            raise GeometryTooLarge(
                f"the upload has more than {settings.max_vertices * UPLOAD_VERTEX_FACTOR:,} "
                f"vertices ({UPLOAD_VERTEX_FACTOR} × GRIDMAP_MAX_VERTICES); upload fewer "
                "communities at a time", zh="上传的网格拐点过多，请分批上传",
                limit=settings.max_vertices * UPLOAD_VERTEX_FACTOR)
        if parent not in state.communities:
            problems.append({"row": n, "code": code, "problem": f"parent_code {parent!r} is not a "
                             "community of this plan",
                             "problem_zh": f"parent_code「{parent}」不是本规划范围内的社区/村"})
        elif not (code.startswith(parent) and len(code) in (14, 15) and code.isdigit()):
            problems.append({"row": n, "code": code, "problem": "code must be the community's 12 "
                             "digits and a 2–3 digit grid number",
                             "problem_zh": "code 须为所属社区/村的 12 位编码加 2–3 位网格序号"})
        elif kind not in ("comprehensive", "dedicated"):
            problems.append({"row": n, "code": code, "problem": "kind must be comprehensive or dedicated",
                             "problem_zh": "kind 须为 comprehensive（综合网格）或 dedicated（专属网格）"})
        elif not name:
            problems.append({"row": n, "code": code, "problem": "name is required",
                             "problem_zh": "缺少网格名称（name）"})
        else:
            rows.append((code, name, parent, kind, props, geom))
    codes = [r[0] for r in rows]
    problems += [{"row": 0, "code": c, "problem": "the code appears twice",
                  "problem_zh": "网格编码重复"}
                 for c in sorted({c for c in codes if codes.count(c) > 1})]
    if problems:
        raise InvalidEdit(f"{len(problems)} row(s) cannot be used; nothing was changed",
                          zh="上传内容有误，未作任何修改", problems=problems)
    communities = {r[2] for r in rows}
    replaced = sorted(c for c, g in state.grids.items() if g.community in communities)
    change = Change(session, plan, by, "upload", communities=sorted(communities))
    change.before(sorted(set(replaced) | set(codes)))
    forget_units(session, state, replaced)
    versions = {c: state.grids[c].version for c in replaced}
    remove_grids(session, state, [c for c in replaced if c not in codes])
    parents = dict(session.execute(select(Area.code, Area.id).where(
        Area.generation_id == plan.generation_id, Area.code.in_(sorted(communities)))).all())
    session.execute(delete(Area).where(Area.generation_id == plan.generation_id,
                                       Area.code.in_(codes)))
    for code, name, parent, kind, props, geom in rows:
        multi = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])
        session.add(Area(generation_id=plan.generation_id, code=code, name=name,
                         level=AreaLevel.GRID, parent_id=parents[parent], kind=kind,
                         properties=props, version=versions.get(code, 0) + 1,
                         geom=from_shape(multi, srid=4326)))
        state.grids[code] = Grid(code, name, kind, versions.get(code, 0) + 1, parent, geom, props)
        state.index.put(code, geom)
    session.flush()
    change.done()
    return edit_answer(state, settings, sorted(set(codes) | set(replaced)))
