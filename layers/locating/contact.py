"""A resident reaching someone: the grid worker's work phone as the public board in each compound
shows it — behind a tap on the resident page, rate-limited and audited (the bulk answers keep it
masked) — and always the community's reception room (网格会客厅) with its hours and phone and
the street centre's hotline, which is what a grid without a worker answers with.

The numbers are read from the database on each tap (the locator keeps masked phones only), and
every answer is one audit entry: which grid, from which client — never the number itself.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.access import audit
from layers.access.policy import Principal
from layers.boundaries.areas import AreaNotFound
from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.storage.models import GRID_WORKER_ROLES

EXAMPLE_SQL = """
    SELECT address FROM buildings
    WHERE households > 0 AND properties ? 'building_no'
    ORDER BY households DESC, code LIMIT 1
"""


def example_address(session: Session) -> str | None:
    """An address of the loaded district that the resident page offers as its example: the
    building with the most households (a standard address with its building number), so the
    example works for whatever district is loaded."""
    found = session.execute(text(EXAMPLE_SQL)).scalar()
    if found is None:
        found = session.execute(text("SELECT address FROM buildings ORDER BY code LIMIT 1")).scalar()
    return found


def contact(session: Session, grid_code: str, *, by: Principal) -> dict:
    """Whom a resident of ``grid_code`` can call: the responsible grid worker (full phone), the
    community's reception room (hours, phone, place) and the street centre's hotline."""
    grid = session.execute(text(f"""
        SELECT g.code, g.name, c.code AS community_code, c.name AS community, c.geom AS cgeom,
               s.name AS street, s.properties->>'hotline' AS hotline,
               ST_PointOnSurface(g.geom) AS centre
        FROM areas g JOIN areas c ON c.id = g.parent_id JOIN areas s ON s.id = c.parent_id
        WHERE g.generation_id = {ACTIVE_ID_SQL} AND g.level = 'grid' AND g.code = :code"""),
        {"code": grid_code}).mappings().one_or_none()
    if grid is None:
        raise AreaNotFound(f"no grid {grid_code}", zh="未找到该网格")
    worker = session.execute(text("""
        SELECT w.name, w.phone, wa.role::text AS role
        FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
        WHERE wa.grid_code = :code AND wa.role::text = ANY(:roles)
        ORDER BY wa.role, w.code LIMIT 1"""),
        {"code": grid_code, "roles": [r.value for r in GRID_WORKER_ROLES]}).mappings().first()
    # the community's reception room nearest the grid (a community may have several)
    room = session.execute(text("""
        SELECT s.name, s.address, s.properties->>'hours' AS hours, s.properties->>'phone' AS phone,
               ST_X(ST_PointOnSurface(s.geom)) AS lon, ST_Y(ST_PointOnSurface(s.geom)) AS lat,
               ST_Distance(s.geom::geography, CAST(:centre AS geometry)::geography) AS distance_m
        FROM sites s
        WHERE s.kind = 'reception_room' AND ST_Intersects(s.geom, CAST(:cgeom AS geometry))
        ORDER BY distance_m, s.code LIMIT 1"""),
        {"centre": grid["centre"], "cgeom": grid["cgeom"]}).mappings().first()
    audit.record(session, by, "resident.contact", target=grid_code,
                 worker_phone=bool(worker and worker["phone"]))
    return {
        "grid": {"code": grid["code"], "name": grid["name"]},
        "community": grid["community"], "street": grid["street"],
        "worker": {"name": worker["name"], "phone": worker["phone"], "role": worker["role"]}
        if worker else None,
        "reception_room": {"name": room["name"], "address": room["address"],
                           "hours": room["hours"], "phone": room["phone"],
                           "lon": round(room["lon"], 7), "lat": round(room["lat"], 7)}
        if room else None,
        "hotline": {"name": f"{grid['street']}服务热线", "phone": grid["hotline"]}
        if grid["hotline"] else None,
    }
