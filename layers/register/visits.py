"""Monthly care visits (每月必访): each grid's visit list for a month is derived from the register —
the people carrying one of the care tags and the rental dwellings in the grid's buildings; a
worker records visits (with where they stood: a visit logged far from the dwelling's building is
flagged for review, not refused); compliance is the share of the list visited, in SQL.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.points import PointQuery
from layers.access import audit, idempotency
from layers.access.policy import Principal
from layers.boundaries import areas
from layers.cases import photos as case_photos
from layers.clock import CHINA
from layers.errors import DomainError
from layers.register.people import NotFound, dwelling_address
from layers.storage.models import CARE_PREDICATE, CARE_TAGS, GRID_WORKER_ROLES, Photo, Visit

PERSON_TAGS = CARE_TAGS  # + 出租房屋: the rental dwellings
CLOCK_SKEW = dt.timedelta(minutes=10)  # a phone's clock a little ahead is not "the future"


class BadVisit(DomainError):
    code = "bad_visit"


def parse_month(value: str | None, today: dt.date) -> dt.date:
    if value is None:
        return today.replace(day=1)
    if not re.fullmatch(r"\d{4}-\d{2}", value or ""):
        raise BadVisit("write the month as YYYY-MM, e.g. 2026-11", zh="月份格式应为 YYYY-MM")
    year, month = int(value[:4]), int(value[5:])
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise BadVisit(f"{value} is not a month", zh="月份有误")
    return dt.date(year, month, 1)


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


# The visit list of a month: one row per person or rental, with its grid and whether (and how)
# it was visited that month. :scope limits it to grids under an area code. The care predicate is
# the partial index's own (ix_persons_care), so the list is read from the index.
DUE_SQL = f"""
WITH bg AS (SELECT building_id, grid_code FROM building_grids
            WHERE CAST(:scope AS text) IS NULL OR grid_code LIKE :scope || '%'),
due AS (
    SELECT 'person' AS kind, p.id AS target, bg.grid_code, p.building_id, p.dwelling_id
    FROM persons p JOIN bg ON bg.building_id = p.building_id
    WHERE p.{CARE_PREDICATE}
    UNION ALL
    SELECT 'dwelling', d.id, bg.grid_code, d.building_id, d.id
    FROM dwellings d JOIN bg ON bg.building_id = d.building_id WHERE d.use = '出租'
),
done AS (  -- the visits of the list's own people and rentals only
    SELECT v.person_id AS target, 'person' AS kind, count(*) AS visits,
           bool_or(v.flagged) AS flagged, max(v.visited_at) AS last_at
    FROM visits v WHERE v.month = :month
     AND v.person_id IN (SELECT target FROM due WHERE kind = 'person') GROUP BY 1
    UNION ALL
    SELECT v.dwelling_id, 'dwelling', count(*), bool_or(v.flagged), max(v.visited_at)
    FROM visits v WHERE v.month = :month
     AND v.dwelling_id IN (SELECT target FROM due WHERE kind = 'dwelling') GROUP BY 1
)
SELECT due.*, coalesce(done.visits, 0) AS visits, coalesce(done.flagged, false) AS flagged,
       done.last_at
FROM due LEFT JOIN done ON done.target = due.target AND done.kind = due.kind
"""

# Compliance counts per grid without listing anyone: the month's visited targets are hashed
# once, the care list and the rentals are counted per building from their partial indexes, and
# only then joined to the grids (22 k buildings, not 110 k list rows).
COMPLIANCE_SQL = f"""
WITH vp AS (SELECT person_id AS id, bool_or(flagged) AS flagged FROM visits
            WHERE month = :month AND person_id IS NOT NULL GROUP BY 1),
vd AS (SELECT dwelling_id AS id, bool_or(flagged) AS flagged FROM visits
       WHERE month = :month AND dwelling_id IS NOT NULL GROUP BY 1),
per_building AS (
    SELECT p.building_id, count(*) AS due, count(vp.id) AS visited,
           count(*) FILTER (WHERE vp.flagged) AS flagged
    FROM persons p LEFT JOIN vp ON vp.id = p.id WHERE p.{CARE_PREDICATE} GROUP BY 1
    UNION ALL
    SELECT d.building_id, count(*), count(vd.id), count(*) FILTER (WHERE vd.flagged)
    FROM dwellings d LEFT JOIN vd ON vd.id = d.id WHERE d.use = '出租' GROUP BY 1
),
per_grid AS (
    SELECT bg.grid_code, sum(due) AS due, sum(visited) AS visited, sum(flagged) AS flagged
    FROM per_building JOIN building_grids bg ON bg.building_id = per_building.building_id
    WHERE CAST(:scope AS text) IS NULL OR bg.grid_code LIKE :scope || '%'
    GROUP BY 1
)
"""


def _scope(principal: Principal, area: str | None) -> str | None:
    if area is None:
        return principal.scope_code
    if not principal.covers(area):
        raise NotFound(f"{area} is outside your scope {principal.scope_code}", zh="该区域不在您的管辖范围内")
    return area


def due(session: Session, principal: Principal, *, month: dt.date, area: str | None = None,
        limit: int = 500) -> dict:
    """The visit list of the caller's grids (or an area within their scope) for a month."""
    scope = _scope(principal, area)
    # one pass over the list: the first rows, and the totals as window aggregates beside them
    rows = session.execute(text(f"""
        WITH list AS ({DUE_SQL})
        SELECT list.kind, list.target, list.grid_code, list.visits, list.flagged, list.last_at,
               list.dwelling_id,
               b.code AS building, b.address, d.unit, d.room, p.code AS person, p.name, p.tags,
               count(*) OVER () AS due_total,
               count(*) FILTER (WHERE list.visits > 0) OVER () AS visited_total
        FROM list JOIN buildings b ON b.id = list.building_id
        JOIN dwellings d ON d.id = list.dwelling_id
        LEFT JOIN persons p ON list.kind = 'person' AND p.id = list.target
        ORDER BY list.visits > 0, list.grid_code, b.code, list.kind, list.target LIMIT :limit"""),
        {"scope": scope, "month": month, "limit": limit}).all()
    audit.record(session, principal, "visit.due", target=scope, month=str(month),
                 persons=[r.person for r in rows if r.person])
    due_total, visited_total = (rows[0].due_total, rows[0].visited_total) if rows else (0, 0)
    return {"month": month.strftime("%Y-%m"), "area": scope, "due": due_total,
            "visited": visited_total,
            "items": [{
                "kind": r.kind, "person": {"code": r.person, "name": r.name,
                                           "tags": [t for t in r.tags if t in PERSON_TAGS]}
                if r.person else None,
                "dwelling": {"id": r.target if r.kind == "dwelling" else None,
                             "building": r.building, "address": r.address,
                             "unit": r.unit or None, "room": r.room,
                             # the home down to unit and room, and which dwelling it is
                             "label": dwelling_address(r.address, r.unit, None, r.room),
                             "dwelling_id": r.dwelling_id},
                "grid": r.grid_code, "visited": r.visits > 0, "visits": r.visits,
                "flagged": r.flagged, "last_visit": r.last_at.isoformat() if r.last_at else None,
            } for r in rows]}


def compliance(session: Session, principal: Principal, *, month: dt.date, by: str,
               today: dt.date, area: str | None = None) -> dict:
    """Share of the month's list visited, overdue (not visited by the month's end) and flagged,
    per grid, community, street or responsible grid worker, each named (the area's or the
    worker's name)."""
    scope = _scope(principal, area)
    if by == "worker":
        key = "coalesce(w.code, '(无网格员)')"
        name = "min(w.name)"
        join = """LEFT JOIN LATERAL (
            SELECT wk.code, wk.name FROM worker_assignments wa JOIN workers wk ON wk.id = wa.worker_id
            WHERE wa.grid_code = list.grid_code AND wa.role = ANY(CAST(:roles AS worker_role[]))
            ORDER BY wa.role, wk.code LIMIT 1) w ON true"""
    else:
        width = {"grid": 15, "community": 12, "street": 9}[by]
        key = f"left(list.grid_code, {width})"
        name = "NULL"
        join = ""
    ended = _next_month(month) <= today
    rows = session.execute(text(f"""{COMPLIANCE_SQL}
        SELECT {key} AS key, {name} AS name, sum(due)::int AS due, sum(visited)::int AS visited,
               sum(flagged)::int AS flagged
        FROM per_grid list {join} GROUP BY 1 ORDER BY 1"""),
        {"scope": scope, "month": month, "roles": [r.value for r in GRID_WORKER_ROLES]}).all()
    named = {} if by == "worker" else areas.names(session, [r.key for r in rows])
    return {"month": month.strftime("%Y-%m"), "by": by, "area": scope, "month_ended": ended,
            "rows": [{by: r.key, "name": r.name if by == "worker" else named.get(r.key),
                      "due": r.due, "visited": r.visited,
                      "share": round(r.visited / r.due, 4) if r.due else None,
                      "overdue": (r.due - r.visited) if ended else 0,
                      "pending": 0 if ended else r.due - r.visited,
                      "flagged": r.flagged} for r in rows]}


def record(session: Session, principal: Principal, *, person: str | None, dwelling: int | None,
           visited_at: dt.datetime, point: PointQuery | None, note: str | None, key: str | None,
           flag_m: float, now: dt.datetime, backfill_hours: float) -> tuple[dict, bool]:
    """Record a visit; (the visit, created). A retry with the same idempotency key returns the
    visit the caller made the first time (also when two retries race); another caller's key is
    refused (layers/access/idempotency.py).

    A visit is recorded when it happens, or up to ``backfill_hours`` later (a phone offline over
    a weekend sends it then): not in the future, and never weeks back — a month's compliance
    (the worker assessment) is not filled in after the fact."""
    if (person is None) == (dwelling is None):
        raise BadVisit("name the person (person: code) or the rental (dwelling: id) visited, "
                       "not both", zh="请指明走访对象：人员或出租房屋之一")
    if (found := idempotency.replayed(session, idempotency.VISITS, key, principal.name)) is not None:
        return _by_id(session, found), False
    if visited_at > now + CLOCK_SKEW:
        raise BadVisit("visited_at is in the future: send when the visit took place",
                       zh="走访时间不能晚于当前时间")
    if visited_at < now - dt.timedelta(hours=backfill_hours):
        raise BadVisit(f"visited_at is more than {backfill_hours:g} hours ago: a visit is recorded "
                       "when it happens (GRIDMAP_VISIT_BACKFILL_HOURS)",
                       zh="走访时间过早：走访记录须及时登记，不能补录", limit="visit_backfill_hours")
    if person is not None:
        target = session.execute(text("""
            SELECT p.id, p.building_id, bg.grid_code FROM persons p
            LEFT JOIN building_grids bg ON bg.building_id = p.building_id WHERE p.code = :code"""),
            {"code": person}).one_or_none()
    else:
        target = session.execute(text("""
            SELECT d.id, d.building_id, bg.grid_code FROM dwellings d
            LEFT JOIN building_grids bg ON bg.building_id = d.building_id WHERE d.id = :id"""),
            {"id": dwelling}).one_or_none()
    if target is None or not principal.covers(target.grid_code):
        raise NotFound("no such person or dwelling in your scope", zh="未找到走访对象")
    distance = None
    if point is not None:
        distance = session.scalar(text("""
            SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)
            FROM buildings WHERE id = :b"""), {"lon": point.lon, "lat": point.lat,
                                               "b": target.building_id})
    visit = Visit(key=key, person_id=target.id if person else None,
                  dwelling_id=target.id if dwelling else None, visited_at=visited_at,
                  month=visited_at.astimezone(CHINA).date().replace(day=1),  # Beijing's month
                  recorded_by=principal.name, note=note,
                  distance_m=round(distance, 1) if distance is not None else None,
                  flagged=distance is not None and distance > flag_m,
                  geom=f"SRID=4326;POINT({point.lon} {point.lat})" if point else None)

    def insert() -> int:
        session.add(visit)
        session.flush()
        return visit.id

    visit_id, created = idempotency.insert_once(session, idempotency.VISITS, key, principal.name,
                                                insert)
    if not created:
        return _by_id(session, visit_id), False
    audit.record(session, principal, "visit.create", target=person or f"dwelling:{dwelling}",
                 visit=visit.id)
    return _json(visit, person, dwelling), True


def _by_id(session: Session, visit_id: int) -> dict:
    row = session.execute(text("""
        SELECT v.*, p.code AS person FROM visits v LEFT JOIN persons p ON p.id = v.person_id
        WHERE v.id = :id"""), {"id": visit_id}).one()
    return _json(row, row.person, row.dwelling_id)


def _json(v, person: str | None, dwelling: int | None) -> dict:
    return {"id": v.id, "person": person, "dwelling": dwelling,
            "visited_at": v.visited_at.isoformat(), "month": v.month.strftime("%Y-%m"),
            "distance_m": v.distance_m, "flagged": v.flagged, "note": v.note,
            "recorded_by": v.recorded_by, "key": v.key}


def _visit_in_scope(session: Session, principal: Principal, visit_id: int):
    row = session.execute(text("""
        SELECT v.id, bg.grid_code FROM visits v
        LEFT JOIN persons p ON p.id = v.person_id
        LEFT JOIN dwellings d ON d.id = v.dwelling_id
        LEFT JOIN building_grids bg ON bg.building_id = coalesce(p.building_id, d.building_id)
        WHERE v.id = :id"""), {"id": visit_id}).one_or_none()
    if row is None or not principal.covers(row.grid_code):
        raise NotFound(f"no visit {visit_id} in your scope", zh="未找到该走访记录")
    return row


def add_photo(session: Session, principal: Principal, visit_id: int, data: bytes,
              content_type: str | None) -> tuple[dict, bool]:
    """A photo of a visit (the same checks as a case's: a real JPEG, PNG or WebP, ≤ 5 MB);
    (the photo, created). Like a case's, a photo is keyed by its content: the same bytes sent
    again to the same visit — a phone resending its queue — answer the photo stored the first
    time, so a lost answer never makes a second one."""
    _visit_in_scope(session, principal, visit_id)
    photo, created = case_photos.stored(
        session, case_photos.checked(data, content_type, visit_id=visit_id))
    if not created:
        return case_photos.as_json(photo), False
    audit.record(session, principal, "visit.photo", target=str(visit_id), photo=photo.id,
                 sha256=photo.sha256)
    return case_photos.as_json(photo), True


def photo(session: Session, principal: Principal, visit_id: int, photo_id: int) -> Photo:
    _visit_in_scope(session, principal, visit_id)
    found = session.get(Photo, photo_id)
    if found is None or found.visit_id != visit_id:
        raise NotFound("no such photo on this visit", zh="未找到该照片")
    return found
