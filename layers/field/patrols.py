"""Patrols (每日巡查): a worker's track, cleaned (gis/track.py), stored, and measured against the
grid it was walked for — the share of the grid's roads and back alleys that came within reach
of the track, and the time spent inside and outside the grid. Coverage over days answers which
parts of an area's roads and alleys nobody walked.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from xml.parsers import expat

import numpy as np
import shapely
from scipy.spatial import cKDTree
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.crs import transform_xy
from gis.metric import gauss_kruger_epsg
from gis.track import clean
from layers import clock
from layers.access import audit, idempotency
from layers.access.policy import Principal
from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.clock import CHINA
from layers.errors import DomainError
from layers.limits import Limits, TooComplex
from layers.storage.models import Patrol

MODES = ("walk", "cycle")
MAX_POINTS = 50_000
# A grid's streets include those on its edge. Urban grids are drawn along streets (网格以道路为界:
# the boundary is the street's centre line), so the street on an edge belongs to the grids on
# both sides and a worker walking it is in her grid. Half a wide urban street (30 m with its
# pavements) is 15 m: lines within that of the polygon are the grid's, a phone within it is
# inside. Counting only what lies strictly inside the polygon made a walk along a grid's north
# and east streets count 6–15 % and half of its time "outside" (tests/test_patrols.py).
EDGE_M = 15.0


class BadTrack(DomainError):
    code = "bad_track"


class NoGrid(DomainError):
    code = "no_grid"


def _times(values: list) -> np.ndarray:
    try:
        stamps = [dt.datetime.fromisoformat(str(v).replace("Z", "+00:00")) for v in values]
    except ValueError:
        raise BadTrack("times must be ISO 8601 timestamps, one per point "
                       "(2026-11-27T09:00:00+08:00)", zh="时间格式有误") from None
    # a time without a zone is the phone's local time
    stamps = [s if s.tzinfo else s.replace(tzinfo=CHINA) for s in stamps]
    return np.array([s.timestamp() for s in stamps])


def from_geojson(coords: list[list[float]], times: list[str], crs: str,
                 limits: Limits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, t) from a LineString's coordinates and their times, in WGS84."""
    limits.check_points(len(coords), "the track")
    if len(coords) < 2 or len(times) != len(coords):
        raise BadTrack(f"send at least 2 points and one time per point "
                       f"({len(coords)} points, {len(times)} times)", zh="轨迹点或时间数量有误")
    xy = np.array([c[:2] for c in coords], dtype=float)
    if not np.isfinite(xy).all():
        raise BadTrack("coordinates must be finite numbers", zh="坐标有误")
    lon, lat = transform_xy(xy[:, 0], xy[:, 1], crs, "wgs84")
    return *_on_earth(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)), _times(times)


def _on_earth(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not (np.isfinite(lon) & np.isfinite(lat)).all() or (np.abs(lat) > 90).any() or (
            np.abs(lon) > 180).any():
        raise BadTrack("coordinates out of range: send [lon, lat]", zh="坐标超出范围")
    return lon, lat


def _refuse_doctype(body: bytes) -> None:
    """Read the whole document once with expat, refusing a DOCTYPE or an entity declaration
    wherever it stands and in whatever encoding (after a long comment, in UTF-16): entities are
    how XML multiplies itself (a "billion laughs") or reaches for files."""

    def refuse(*_args) -> None:
        raise BadTrack("a GPX file with a DOCTYPE or entities is not read", zh="GPX 文件格式有误")

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise BadTrack(f"the GPX is not well-formed XML ({exc})", zh="GPX 文件无法解析") from None


def from_gpx(body: bytes, limits: Limits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, t) of a GPX file's track points (WGS84 by definition)."""
    _refuse_doctype(body)
    root = ET.fromstring(body)  # well-formed and without entities: checked just above
    points = [e for e in root.iter() if e.tag.endswith("trkpt")]
    limits.check_points(len(points), "the GPX track")
    if len(points) < 2:
        raise BadTrack("a GPX track needs at least 2 <trkpt> points", zh="GPX 轨迹点数量有误")
    try:  # a missing coordinate reads as "", which float() refuses as a word would be
        lon = np.array([float(p.get("lon", "")) for p in points])
        lat = np.array([float(p.get("lat", "")) for p in points])
    except ValueError:
        raise BadTrack("every <trkpt> needs lat and lon", zh="GPX 轨迹点缺少坐标") from None
    times = [next((c.text for c in p if c.tag.endswith("time")), None) for p in points]
    if any(t is None for t in times):
        raise BadTrack("every <trkpt> needs a <time>", zh="GPX 轨迹点缺少时间")
    return *_on_earth(lon, lat), _times(times)


def _grid_of(session: Session, principal: Principal, lon: np.ndarray,
             lat: np.ndarray) -> tuple[str, shapely.Geometry]:
    """The worker's grid — their scope when it is one grid, else the grid the track spent most
    points in, within their scope — as the area a worker patrols: the polygon and its edge
    streets (``EDGE_M`` around it, on the ellipsoid)."""
    rows = session.execute(text(f"""
        SELECT code, ST_AsBinary(ST_Buffer(geom::geography, :edge)::geometry) FROM areas
        WHERE generation_id = {ACTIVE_ID_SQL} AND level = 'grid'
          AND (CAST(:scope AS text) IS NULL OR code LIKE :scope || '%')
          -- the index's first cut: a box ~100 m larger than the track's (> EDGE_M)
          AND geom && ST_Expand(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326), 0.001)"""),
        {"scope": principal.scope_code, "x0": float(lon.min()), "y0": float(lat.min()),
         "x1": float(lon.max()), "y1": float(lat.max()), "edge": EDGE_M}).all()
    grids = [(code, shapely.from_wkb(bytes(wkb))) for code, wkb in rows]
    if principal.scope_code and any(code == principal.scope_code for code, _ in grids):
        return next((c, g) for c, g in grids if c == principal.scope_code)
    counts = [(int(shapely.covers(g, shapely.points(lon, lat)).sum()), code, g) for code, g in grids]
    best = max(counts, default=None)
    if best is None or best[0] == 0:
        raise NoGrid("the track passes through no grid in your scope", zh="轨迹不在您管辖的网格内")
    return best[1], best[2]


COVERAGE_SQL = """
WITH grids AS (  -- each grid with its edge streets (EDGE_M)
    SELECT code, ST_Buffer(geom::geography, :edge)::geometry AS geom FROM areas
    WHERE generation_id = {active} AND level = 'grid' AND code LIKE :area || '%'
), lines AS (
    SELECT g.code, l.kind, ST_Intersection(l.geom, g.geom) AS geom
    FROM grids g
    JOIN (SELECT geom, 'roads' AS kind FROM roads UNION ALL SELECT geom, 'alleys' FROM alleys) l
      ON l.geom && g.geom AND ST_Intersects(l.geom, g.geom)
), reach AS (  -- tracks simplified to ~1 m (1e-5 degree) first: the buffer is ten times cheaper
    SELECT ST_Union(ST_Buffer(ST_Simplify(p.geom, 0.00001)::geography, :m, 'quad_segs=4')::geometry)
           AS geom FROM patrols p
    WHERE p.id = ANY(:ids)
)
SELECT lines.code, lines.kind,
       coalesce(sum(ST_Length(lines.geom::geography)), 0) AS length_m,
       coalesce(sum(ST_Length(ST_Intersection(lines.geom, reach.geom)::geography)), 0) AS visited_m,
       ST_AsGeoJSON(ST_CollectionExtract(ST_Union(
           CASE WHEN reach.geom IS NULL THEN lines.geom
                ELSE ST_Difference(lines.geom, reach.geom) END), 2), 7) AS missed
FROM lines CROSS JOIN reach
GROUP BY lines.code, lines.kind ORDER BY lines.code, lines.kind
"""
KINDS = ("roads", "alleys")


def _share(visited: float, length: float) -> float | None:
    return round(visited / length, 4) if length else None


def _coverage(session: Session, area: str | None, ids: list[int], reach_m: float) -> dict:
    """Per grid under ``area``: the share of its roads and of its back alleys within reach of
    the patrols ``ids``, and the parts nobody walked; and the totals of the area. (A patrol
    stored without a grid has area None: no grid is under it.)"""
    per_grid: dict[str, dict] = {}
    for row in session.execute(text(COVERAGE_SQL.format(active=ACTIVE_ID_SQL)),
                               {"area": area, "ids": ids, "m": reach_m, "edge": EDGE_M}):
        grid = per_grid.setdefault(row.code, {
            "grid": row.code, **{f"{k}_{f}": None if f == "share" else 0.0
                                 for k in KINDS for f in ("m", "visited_m", "share")},
            "not_visited": {"type": "FeatureCollection", "features": []}})
        length, visited = float(row.length_m), float(row.visited_m)
        grid[f"{row.kind}_m"], grid[f"{row.kind}_visited_m"] = round(length, 1), round(visited, 1)
        grid[f"{row.kind}_share"] = _share(visited, length)
        if row.missed:
            grid["not_visited"]["features"].append({
                "type": "Feature", "properties": {"grid": row.code, "kind": row.kind},
                "geometry": json.loads(row.missed)})
    grids = list(per_grid.values())
    length = sum(g[f"{k}_m"] for g in grids for k in KINDS)
    visited = sum(g[f"{k}_visited_m"] for g in grids for k in KINDS)
    return {"length_m": round(length, 1), "visited_m": round(visited, 1),
            "share": _share(visited, length), "grids": grids}


def grid_lines(session: Session, *, codes: list[str] | None = None,
               prefix: str = "") -> dict[str, list[shapely.LineString]]:
    """The roads and back alleys of grids of the active generation — inside them or on their
    edges (``EDGE_M``) — the grids ``codes``, or every grid under the area code ``prefix``, as
    WGS84 line parts, none of zero length."""
    out: dict[str, list[shapely.LineString]] = {}
    for code, wkb in session.execute(text(f"""
        WITH a AS (
            SELECT code, ST_Buffer(geom::geography, :edge)::geometry AS geom FROM areas
            WHERE generation_id = {ACTIVE_ID_SQL} AND level = 'grid' AND code LIKE :prefix || '%'
              AND (CAST(:codes AS text[]) IS NULL OR code = ANY(CAST(:codes AS text[]))))
        SELECT a.code, ST_AsBinary((ST_Dump(ST_CollectionExtract(
                   ST_Intersection(l.geom, a.geom), 2))).geom)
        FROM a
        JOIN (SELECT geom FROM roads UNION ALL SELECT geom FROM alleys) l
          ON l.geom && a.geom AND ST_Intersects(l.geom, a.geom)
        ORDER BY 1, 2"""),  # one order every time: the demo's walks draw along these lines
            {"codes": codes, "prefix": prefix, "edge": EDGE_M}):
        line = shapely.from_wkb(bytes(wkb))
        if line.length > 0:  # a road that only touches the grid
            out.setdefault(code, []).append(line)
    return out


def shares_of_day(session: Session, tracks: list[tuple[str, np.ndarray, np.ndarray]],
                  reach_m: float) -> list[float | None]:
    """For many patrols at once (a district's day): the share of each one's grid's roads and
    alleys within ``reach_m`` of its (cleaned) track. The grids' lines are read in one query and
    measured in the district's Gauss–Krüger metres: lines and track are cut into pieces of at
    most 5 m and a piece counts as reached when the nearest track vertex is within reach (a
    k-d tree; with vertices ≤ 5 m apart that is the distance to the track within 0.1 m). The
    per-patrol answer (``record``) measures the same exactly in PostGIS, on the ellipsoid."""
    if not tracks:
        return []
    lines = grid_lines(session, codes=sorted({grid for grid, _x, _y in tracks}))
    zone = f"EPSG:{gauss_kruger_epsg(float(np.mean([x.mean() for _g, x, _y in tracks])))}"

    def metric(geom):
        xy = shapely.get_coordinates(geom)
        x, y = transform_xy(xy[:, 0], xy[:, 1], "wgs84", zone)
        return shapely.set_coordinates(geom, np.column_stack([x, y]))

    samples = {code: _samples([metric(x) for x in ls]) for code, ls in lines.items()}
    out: list[float | None] = []
    for grid, x, y in tracks:
        sample = samples.get(grid)
        if sample is None or not sample[1].sum() or len(x) < 2:
            out.append(None)
            continue
        mids, lengths = sample
        track = shapely.segmentize(metric(shapely.LineString(np.column_stack([x, y]))), SAMPLE_M)
        near, _ = cKDTree(shapely.get_coordinates(track)).query(
            mids, distance_upper_bound=reach_m + SAMPLE_M)
        out.append(round(float(lengths[near <= reach_m].sum() / lengths.sum()), 4))
    return out


SAMPLE_M = 5.0  # the day's measure samples lines and tracks every 5 m


def _samples(network: list[shapely.Geometry]) -> tuple[np.ndarray, np.ndarray]:
    """A grid's roads and alleys (in metres) as the midpoints and lengths of pieces ≤ 5 m (each
    line counted, as the per-patrol measure sums them)."""
    mids, lengths = [], []
    for part in network:  # grid_lines' parts; a sliver of degrees can be nothing in metres
        if part.length == 0:
            continue
        xy = shapely.get_coordinates(shapely.segmentize(part, SAMPLE_M))
        mids.append((xy[:-1] + xy[1:]) / 2)
        lengths.append(np.hypot(*np.diff(xy, axis=0).T))
    if not mids:
        return np.zeros((0, 2)), np.zeros(0)
    return np.vstack(mids), np.concatenate(lengths)


def record(session: Session, principal: Principal, lon: np.ndarray, lat: np.ndarray,
           t: np.ndarray, *, mode: str, key: str | None, reach_m: float,
           max_speed: tuple[float, float]) -> tuple[dict, bool]:
    """Clean and store a patrol; (the answer, created). A resend with the same key answers the
    patrol the caller stored the first time; another caller's key is refused
    (layers/access/idempotency.py)."""
    if mode not in MODES:
        raise BadTrack(f"mode is one of {', '.join(MODES)}", zh="出行方式有误")
    if (found := idempotency.replayed(session, idempotency.PATROLS, key, principal.name)) is not None:
        return _answer(session, found, reach_m), False
    cleaned = clean(lon, lat, t, max_speed_ms=max_speed[MODES.index(mode)])
    k = cleaned.keep
    if len(k) < 2:
        raise BadTrack("after removing GPS spikes and stops fewer than two points are left",
                       zh="有效轨迹点不足")
    grid, grid_geom = _grid_of(session, principal, lon[k], lat[k])
    mid = shapely.points((lon[k][:-1] + lon[k][1:]) / 2, (lat[k][:-1] + lat[k][1:]) / 2)
    seconds = np.diff(t[k])
    inside = shapely.covers(grid_geom, mid)
    line = shapely.LineString(np.column_stack([lon[k], lat[k]]))
    tz = clock.CHINA
    patrol = Patrol(key=key, worker=principal.name, grid_code=grid, mode=mode,
                    started_at=dt.datetime.fromtimestamp(float(t[k][0]), tz),
                    ended_at=dt.datetime.fromtimestamp(float(t[k][-1]), tz),
                    points_in=len(lon), points_kept=len(k), length_m=round(cleaned.length_m, 1),
                    inside_s=float(seconds[inside].sum()), outside_s=float(seconds[~inside].sum()),
                    geom=f"SRID=4326;{line.wkt}")

    def insert() -> int:
        session.add(patrol)
        session.flush()
        return patrol.id

    patrol_id, created = idempotency.insert_once(session, idempotency.PATROLS, key,
                                                 principal.name, insert)
    if not created:
        return _answer(session, patrol_id, reach_m), False
    audit.record(session, principal, "patrol.create", target=grid, patrol=patrol.id)
    answer = _answer(session, patrol.id, reach_m)
    patrol.coverage_share = answer["share"]
    answer["dropped"] = {"spikes": cleaned.dropped_spikes, "stops": cleaned.merged_stops}
    return answer, True


def _answer(session: Session, patrol_id: int, reach_m: float) -> dict:
    p = session.get_one(Patrol, patrol_id)  # the patrol just stored, or the key's
    coverage = _coverage(session, p.grid_code, [p.id], reach_m)
    return {"id": p.id, "grid": p.grid_code, "mode": p.mode, "worker": p.worker,
            "started_at": p.started_at.isoformat(), "ended_at": p.ended_at.isoformat(),
            "points_in": p.points_in, "points_kept": p.points_kept, "length_m": p.length_m,
            "inside_s": round(p.inside_s), "outside_s": round(p.outside_s),
            "coverage": [{k: v for k, v in g.items() if k != "not_visited"}
                         for g in coverage["grids"]],
            "share": coverage["share"], "visited_m": coverage["visited_m"]}


def coverage(session: Session, principal: Principal, *, area: str | None, days: int,
             now: dt.datetime, reach_m: float, limits: Limits) -> dict:
    """What the patrols of the last ``days`` covered of an area's roads and back alleys, and the
    parts nobody walked (GeoJSON, for the map). The area may span at most
    ``limits.max_coverage_grids`` grids: the whole district at once ran for minutes."""
    area = area or principal.scope_code
    if area is None:
        raise BadTrack("name the area (a grid, community or street code)", zh="请指定区域")
    if not principal.covers(area):
        raise NoGrid(f"{area} is outside your scope {principal.scope_code}",
                     zh="该区域不在您的管辖范围内")
    grids = session.execute(text(f"""
        SELECT count(*) FROM areas WHERE generation_id = {ACTIVE_ID_SQL} AND level = 'grid'
          AND code LIKE :area || '%'"""), {"area": area}).scalar_one()
    if grids > limits.max_coverage_grids:
        raise TooComplex(f"{area} spans {grids:,} grids; a coverage question may span at most "
                         f"{limits.max_coverage_grids:,} (GRIDMAP_MAX_COVERAGE_GRIDS): name a "
                         "street, community or grid", zh="区域过大，请指定街道、社区或网格",
                         limit="max_coverage_grids", maximum=limits.max_coverage_grids)
    ids = [r[0] for r in session.execute(text("""
        SELECT id FROM patrols WHERE started_at >= :since AND grid_code LIKE :area || '%'"""),
        {"since": now - dt.timedelta(days=days), "area": area})]
    found = _coverage(session, area, ids, reach_m)
    return {"area": area, "days": days, "patrols": len(ids), "reach_m": reach_m, **found,
            "not_visited": {"type": "FeatureCollection", "features": [
                f for g in found["grids"] for f in g["not_visited"]["features"]]}}
