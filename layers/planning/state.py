"""What a plan looks like right now, read from PostGIS in one go: its grids (geometry, version,
community), the communities they must tile, the buildings inside, and the planned workers. Edits
and validation work on this snapshot in memory and write back only what changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.redraw import GridIndex
from layers.storage.models import GRID_WORKER_ROLES, Plan

# Grids share edges to within floating-point noise: about a tenth of a millimetre.
NEIGHBOUR_DEG = 1e-6


@dataclass
class Grid:
    code: str
    name: str
    kind: str
    version: int
    community: str
    geom: shapely.Geometry
    properties: dict

    @property
    def multipart(self) -> bool:
        return bool(self.properties.get("multipart"))


@dataclass
class Buildings:
    codes: np.ndarray
    households: np.ndarray
    residents: np.ndarray
    points: np.ndarray  # a point on each building's surface
    shapes: np.ndarray  # the buildings themselves (polygons or points)


@dataclass
class PlanState:
    plan: Plan
    grids: dict[str, Grid]
    communities: dict[str, tuple[str, shapely.Geometry, bool]]  # code → (name, geom, rural)
    buildings: Buildings
    workers: dict[str, list[dict]]  # grid code → planned workers {code, name, role}
    index: GridIndex = field(init=False)

    def __post_init__(self) -> None:
        self.index = GridIndex({code: g.geom for code, g in self.grids.items()})

    def grid_of_buildings(self) -> np.ndarray:
        """For each building, the code of the grid covering its point (lowest code on a shared
        edge, as the locator decides), or '' when none does."""
        out = np.full(len(self.buildings.codes), "", dtype=object)
        if not self.grids or not len(out):
            return out
        codes = sorted(self.grids)
        tree = shapely.STRtree([self.grids[c].geom for c in codes])
        point_i, grid_i = tree.query(self.buildings.points, predicate="covered_by")
        order = np.lexsort((grid_i, point_i))  # per point, the lowest code first
        first = np.unique(point_i[order], return_index=True)[1]
        out[point_i[order][first]] = np.asarray(codes, dtype=object)[grid_i[order][first]]
        return out

    def neighbours(self) -> dict[str, list[str]]:
        """Grids sharing an edge (not just a corner) with each grid, by code."""
        out: dict[str, list[str]] = {code: [] for code in self.grids}
        for code, grid in self.grids.items():
            if grid.geom.is_empty:
                continue
            edge = grid.geom.boundary
            for other in self.index.near(grid.geom, NEIGHBOUR_DEG):
                if other > code and not self.grids[other].geom.is_empty and edge.intersection(
                        self.grids[other].geom.buffer(NEIGHBOUR_DEG)).length > 10 * NEIGHBOUR_DEG:
                    out[code].append(other)
                    out[other].append(code)
        return {code: sorted(near) for code, near in out.items()}

    def totals(self) -> dict[str, dict]:
        """Households, residents and buildings per grid."""
        owner = self.grid_of_buildings()
        totals = {code: {"households": 0, "residents": 0, "buildings": 0} for code in self.grids}
        for code, hh, res in zip(owner, self.buildings.households, self.buildings.residents,
                                 strict=True):
            if code:
                t = totals[code]
                t["households"] += int(hh)
                t["residents"] += int(res)
                t["buildings"] += 1
        return totals


def load(session: Session, plan: Plan) -> PlanState:
    """The plan's state, every list in the order of codes: what is computed from it (units,
    rebalancing) must not depend on the order the database returns rows in."""
    params = {"g": plan.generation_id, "area": plan.area_code}
    grid_rows = session.execute(text("""
        SELECT g.code, g.name, g.kind::text AS kind, g.version, c.code AS community, g.properties,
               ST_AsBinary(g.geom) AS wkb
        FROM areas g JOIN areas c ON c.id = g.parent_id
        WHERE g.generation_id = :g AND g.level = 'grid' AND g.code LIKE :area || '%'
        ORDER BY g.code
    """), params).all()
    community_rows = session.execute(text("""
        SELECT code, name, properties, ST_AsBinary(geom) AS wkb FROM areas
        WHERE generation_id = :g AND level = 'community'
          AND (code LIKE :area || '%' OR :area LIKE code || '%')
        ORDER BY code
    """), params).all()
    building_rows = session.execute(text("""
        SELECT b.code, b.households, b.population, ST_AsBinary(ST_PointOnSurface(b.geom)) AS point,
               ST_AsBinary(b.geom) AS shape
        FROM buildings b, (SELECT ST_Union(geom) AS geom FROM areas WHERE generation_id = :g
                           AND level = 'community' AND (code LIKE :area || '%'
                                                        OR :area LIKE code || '%')) a
        WHERE b.geom && a.geom AND ST_Intersects(b.geom, a.geom)
        ORDER BY b.code
    """), params).all()
    worker_rows = session.execute(text("""
        SELECT pa.grid_code, pa.worker_code AS code, w.name, pa.role::text AS role
        FROM plan_assignments pa LEFT JOIN workers w ON w.code = pa.worker_code
        WHERE pa.plan_id = :plan ORDER BY pa.grid_code, array_position(CAST(:roles AS text[]),
                                                                         pa.role::text), pa.worker_code
    """), {"plan": plan.id, "roles": [r.value for r in GRID_WORKER_ROLES]}).all()
    grids = {r.code: Grid(r.code, r.name, r.kind, r.version, r.community,
                          shapely.from_wkb(bytes(r.wkb)), dict(r.properties or {}))
             for r in grid_rows}
    communities = {r.code: (r.name, shapely.from_wkb(bytes(r.wkb)), _rural(r.name, r.properties))
                   for r in community_rows}
    workers: dict[str, list[dict]] = {}
    for r in worker_rows:
        workers.setdefault(r.grid_code, []).append({"code": r.code, "name": r.name, "role": r.role})
    buildings = Buildings(
        codes=np.asarray([r.code for r in building_rows], dtype=object),
        households=np.asarray([r.households or 0 for r in building_rows], dtype=np.int64),
        residents=np.asarray([r.population or 0 for r in building_rows], dtype=np.int64),
        points=np.asarray([shapely.from_wkb(bytes(r.point)) for r in building_rows], dtype=object),
        shapes=np.asarray([shapely.from_wkb(bytes(r.shape)) for r in building_rows], dtype=object))
    return PlanState(plan, grids, communities, buildings, workers)


def _rural(name: str, properties: dict | None) -> bool:
    """Villages (村) are rural; an area's ``rural`` property says otherwise where names mislead."""
    if properties and "rural" in properties:
        return bool(properties["rural"])
    return name.endswith("村")
