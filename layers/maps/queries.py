"""What the maps show, read from PostGIS (GeoJSON serialised by PostGIS itself, ST_AsGeoJSON)."""

from __future__ import annotations

import datetime as dt
import json

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.coverage import sector
from gis.metric import length_m
from layers.boundaries.areas import AreaNotFound
from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.field.patrols import EDGE_M
from layers.registry import LayerSpec
from layers.storage.models import GRID_WORKER_ROLES


def _collection(session: Session, sql: str, params: dict | None = None) -> dict:
    """Rows of (geojson text, properties json) → a FeatureCollection."""
    features = [{"type": "Feature", "geometry": json.loads(g), "properties": p}
                for g, p in session.execute(text(sql), params or {})]
    return {"type": "FeatureCollection", "features": features}


def grids(session: Session, simplify_deg: float = 0.00001) -> dict:
    """Grids with community, street, grid worker, households and households per grid worker."""
    return _collection(session, f"""
        WITH hh AS (  -- each building counted once, in the grid covering its inside point:
                      -- building_grids, kept for the active generation (a spatial join of a
                      -- whole city's 250 k buildings here took 23 s)
            SELECT bg.grid_code, sum(b.households) AS households, sum(b.population) AS population
            FROM building_grids bg JOIN buildings b ON b.id = bg.building_id
            GROUP BY bg.grid_code
        ), w AS (
            SELECT wa.grid_code, string_agg(w.name, '、' ORDER BY w.code) AS names,
                   string_agg(left(w.phone, 3) || '****' || right(w.phone, 4), '、' ORDER BY w.code)
                       AS phones, count(*) AS n
            FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
            WHERE wa.role::text = ANY(:grid_roles)
            GROUP BY wa.grid_code
        )
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(g.geom, :tol), 6),
               json_build_object(
                   'code', g.code, 'name', g.name, 'kind', g.kind,
                   'community', c.name, 'street', s.name, 'street_code', s.code,
                   'worker', COALESCE(w.names, '（未配置）'), 'phone', COALESCE(w.phones, ''),
                   'households', COALESCE(hh.households, 0),
                   'population', COALESCE(hh.population, 0),
                   'households_per_worker',
                   round(COALESCE(hh.households, 0)::numeric / GREATEST(w.n, 1), 0))
        FROM areas g
        LEFT JOIN hh ON hh.grid_code = g.code
        JOIN areas c ON c.id = g.parent_id
        JOIN areas s ON s.id = c.parent_id
        LEFT JOIN w ON w.grid_code = g.code
        WHERE g.generation_id = {ACTIVE_ID_SQL} AND g.level = 'grid'
        ORDER BY g.code
    """, {"tol": simplify_deg, "grid_roles": [role.value for role in GRID_WORKER_ROLES]})


def outlines(session: Session, level: str, simplify_deg: float = 0.00002,
             scope: str | None = None) -> dict:
    """Outlines of one level of the hierarchy (those overlapping ``scope``, when given)."""
    return _collection(session, f"""
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tol), 6),
               json_build_object('code', code, 'name', name)
        FROM areas WHERE generation_id = {ACTIVE_ID_SQL} AND level = CAST(:level AS area_level)
          AND (CAST(:scope AS text) IS NULL OR code LIKE left(:scope, length(code)) || '%'
               OR code LIKE :scope || '%')
        ORDER BY code
    """, {"tol": simplify_deg, "level": level, "scope": scope})


def points(session: Session, spec: LayerSpec, where: str = "TRUE") -> dict:
    """A layer's features as points (a polygon's point on surface) with code, name and the
    layer's other text fields, for a map overlay."""
    props = ", ".join(f"'{f.name}', {f.value_sql}" for f in spec.fields
                      if f.type is str)
    return _collection(session, f"""
        SELECT ST_AsGeoJSON(ST_PointOnSurface(geom), 6), json_build_object({props})
        FROM {spec.table} t WHERE {spec.current_rows_sql("t")} AND ({where}) ORDER BY code
    """)


def camera_sectors(session: Session) -> tuple[dict, list[shapely.Geometry]]:
    """View sectors of the video cameras (GeoJSON, and shapely polygons for coverage)."""
    rows = session.execute(text("""
        SELECT code, name, kind::text, ST_X(geom), ST_Y(geom), heading_deg, fov_deg, range_m
        FROM cameras WHERE kind IN ('fixed', 'ptz', 'panoramic') AND range_m IS NOT NULL
        ORDER BY code""")).all()
    features, polygons = [], []
    for code, name, kind, x, y, heading, fov, rng in rows:
        poly = shapely.Polygon(sector(x, y, heading or 0.0, fov or 360.0, rng, steps=8))
        polygons.append(poly)
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(poly),
                         "properties": {"code": code, "name": name, "kind": kind,
                                        "range_m": rng, "fov_deg": fov}})
    return {"type": "FeatureCollection", "features": features}, polygons


def alley_coverage(session: Session, sectors: list[shapely.Geometry]) -> tuple[dict, dict, list[dict]]:
    """Alleys, the stretches no camera sees (blind spots), and the covered share of alley length
    per street (lengths in metres, on the ellipsoid)."""
    rows = session.execute(text(f"""
        SELECT a.code, a.name, ST_AsBinary(a.geom), s.code AS street_code, s.name AS street
        FROM alleys a
        LEFT JOIN LATERAL (
            SELECT code, name FROM areas
            WHERE generation_id = {ACTIVE_ID_SQL} AND level = 'street'
              AND ST_Intersects(geom, ST_PointOnSurface(a.geom)) LIMIT 1) s ON true
        ORDER BY a.code""")).all()
    # each alley against the sectors near it: the union of a whole city's 9,300 sectors made
    # every difference cost 4 ms
    tree = shapely.STRtree(sectors)
    alleys, blind = [], []
    per_street: dict[str, list[float]] = {}
    for code, name, wkb, _street_code, street in rows:
        line = shapely.from_wkb(bytes(wkb))
        near = tree.query(line)
        hidden = line.difference(shapely.union_all(tree.geometries[near])) if len(near) else line
        total, unseen = length_m(line), length_m(hidden) if not hidden.is_empty else 0.0
        acc = per_street.setdefault(street or "—", [0.0, 0.0])
        acc[0] += total
        acc[1] += total - unseen
        share = (total - unseen) / total if total else 1.0
        alleys.append({"type": "Feature", "geometry": shapely.geometry.mapping(line),
                       "properties": {"code": code, "name": name, "street": street,
                                      "covered_pct": round(share * 100, 1)}})
        if not hidden.is_empty:
            blind.append({"type": "Feature", "geometry": shapely.geometry.mapping(hidden),
                          "properties": {"code": code, "name": name, "blind_m": round(unseen, 1)}})
    shares = [{"street": k, "alley_m": round(v[0]), "covered_pct": round(v[1] / v[0] * 100, 1)}
              for k, v in sorted(per_street.items(), key=lambda kv: -kv[1][0]) if v[0] > 0]
    return ({"type": "FeatureCollection", "features": alleys},
            {"type": "FeatureCollection", "features": blind}, shares)


PATROL_COVERAGE_SQL = """
WITH recent AS (SELECT grid_code, geom FROM patrols WHERE started_at >= :since),
reach AS (
    SELECT grid_code, ST_Union(ST_Buffer(geom::geography, :m)::geometry) AS geom
    FROM recent GROUP BY grid_code
), grids AS (  -- each patrolled grid with its edge streets (layers/field/patrols.py: EDGE_M)
    SELECT code, ST_Buffer(geom::geography, :edge)::geometry AS geom FROM areas
    WHERE generation_id = {active} AND level = 'grid' AND code IN (SELECT grid_code FROM reach)
), lines AS (
    SELECT a.code, l.kind, ST_Intersection(l.geom, a.geom) AS geom
    FROM grids a
    JOIN (SELECT geom, '道路' AS kind FROM roads UNION ALL SELECT geom, '背街小巷' FROM alleys) l
      ON l.geom && a.geom AND ST_Intersects(l.geom, a.geom)
)
SELECT lines.code, lines.kind,
       ST_AsGeoJSON(ST_CollectionExtract(ST_Union(ST_Intersection(lines.geom, reach.geom)), 2), 6),
       ST_AsGeoJSON(ST_CollectionExtract(ST_Union(ST_Difference(lines.geom, reach.geom)), 2), 6)
FROM lines JOIN reach ON reach.grid_code = lines.code
GROUP BY lines.code, lines.kind ORDER BY lines.code, lines.kind
"""


def patrol_coverage(session: Session, *, since: dt.datetime, reach_m: float) -> tuple[dict, dict]:
    """The roads and back alleys of every patrolled grid that the patrols since ``since`` came
    within ``reach_m`` of, and the parts nobody walked (two FeatureCollections)."""
    visited: list[dict] = []
    missed: list[dict] = []
    for code, kind, seen, unseen in session.execute(
            text(PATROL_COVERAGE_SQL.format(active=ACTIVE_ID_SQL)),
            {"since": since, "m": reach_m, "edge": EDGE_M}):
        for geojson, out in ((seen, visited), (unseen, missed)):
            geometry = json.loads(geojson) if geojson else None
            if geometry and geometry.get("coordinates"):
                out.append({"type": "Feature", "geometry": geometry,
                            "properties": {"grid": code, "kind": kind}})
    return ({"type": "FeatureCollection", "features": visited},
            {"type": "FeatureCollection", "features": missed})


def district_bounds(session: Session) -> list[list[float]]:
    x0, y0, x1, y1 = session.execute(text(f"""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM (SELECT ST_Extent(geom) AS e FROM areas WHERE generation_id = {ACTIVE_ID_SQL}) q""")).one()
    if x0 is None:
        return [[35.3, 116.5], [35.5, 116.7]]
    return [[y0, x0], [y1, x1]]


def cases(session: Session, *, since: dt.date | None, category: str | None,
          street: str | None, scope: str | None = None, limit: int = 20_000) -> list[dict]:
    """Cases for the cases map: open ones always, closed ones in the period."""
    rows = session.execute(text("""
        SELECT c.id, c.case_no, c.category_code, cat.name AS category, c.status::text AS status,
               c.grid_code, g.name AS grid, w.name AS worker, c.deadline, c.created_at,
               c.escalation_level,
               ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat
        FROM cases c
        LEFT JOIN categories cat ON cat.version_id = c.routing_version_id AND cat.code = c.category_code
        LEFT JOIN areas g ON g.code = c.grid_code AND g.generation_id = c.generation_id
        LEFT JOIN workers w ON w.code = c.assignee_worker_code
        WHERE c.status <> 'merged'
          AND (c.status NOT IN ('closed', 'cancelled') OR c.created_at >= :since)
          AND (CAST(:category AS text) IS NULL OR c.category_code = :category)
          AND (CAST(:street AS text) IS NULL OR c.grid_code LIKE :street || '%')
          AND (CAST(:scope AS text) IS NULL OR c.grid_code LIKE :scope || '%')
        ORDER BY c.created_at DESC LIMIT :limit
    """), {"since": since or dt.date(1900, 1, 1), "category": category, "street": street,
           "scope": scope, "limit": limit}).mappings().all()
    return [dict(r) for r in rows]


def area_bounds(session: Session, code: str) -> list[list[float]] | None:
    """[[south, west], [north, east]] of an area of the active generation (None: no such area)."""
    row = session.execute(text(f"""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM (SELECT ST_Extent(geom) AS e FROM areas
              WHERE generation_id = {ACTIVE_ID_SQL} AND code = :code) q"""), {"code": code}).one()
    return None if row[0] is None else [[row[1], row[0]], [row[3], row[2]]]


def categories(session: Session) -> list[tuple[str, str]]:
    return [tuple(r) for r in session.execute(text(
        "SELECT code, name FROM categories WHERE version_id = (SELECT max(id) FROM routing_versions) "
        "ORDER BY code"))]


def streets(session: Session, scope: str | None = None) -> list[tuple[str, str]]:
    """The streets of the active generation that overlap a scope (a street's or a grid's code
    shares its first nine digits with the street)."""
    return [tuple(r) for r in session.execute(text(
        f"SELECT code, name FROM areas WHERE generation_id = {ACTIVE_ID_SQL} AND level = 'street' "
        "AND (CAST(:scope AS text) IS NULL OR code LIKE left(:scope, 9) || '%') ORDER BY code"),
        {"scope": scope})]


def grid_geojson(session: Session, code: str) -> dict:
    row = session.execute(text(f"""
        SELECT ST_AsGeoJSON(geom, 7), name FROM areas
        WHERE generation_id = {ACTIVE_ID_SQL} AND code = :code"""), {"code": code}).first()
    if row is None:
        raise AreaNotFound(f"no grid {code}", zh="未找到该网格")
    return {"type": "Feature", "geometry": json.loads(row[0]), "properties": {"code": code,
                                                                              "name": row[1]}}



def communities(session: Session, generation_id: int, area: str) -> list[tuple[str, str]]:
    """The communities of an area in a generation (a plan's draft, say), by code."""
    return [tuple(r) for r in session.execute(text("""
        SELECT code, name FROM areas WHERE generation_id = :g AND level = 'community'
          AND (code LIKE :area || '%' OR :area LIKE code || '%') ORDER BY code
    """), {"g": generation_id, "area": area})]


def filter_choices(session: Session, scope: str | None) -> dict:
    """What a staff page's filters offer inside a scope: the streets and communities of the
    active generation (code, name, parent street) and the case categories in force."""
    areas = session.execute(text(f"""
        SELECT code, name, level::text AS level FROM areas
        WHERE generation_id = {ACTIVE_ID_SQL} AND level IN ('street', 'community')
          AND (CAST(:scope AS text) IS NULL OR code LIKE :scope || '%'
               OR :scope LIKE code || '%')
        ORDER BY code"""), {"scope": scope}).all()
    return {"streets": [[a.code, a.name] for a in areas if a.level == "street"],
            "communities": [[a.code, a.name] for a in areas if a.level == "community"],
            "categories": [list(c) for c in categories(session)]}
