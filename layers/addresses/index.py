"""The gazetteer of a locator, read from PostGIS: the standard addresses (``standard_addresses``,
the backbone), the buildings that have none yet (their ``address`` parsed), the sites by name,
the register's organisations by name (their building is the answer), and the communities and
villages with their grids — every point placed in a grid of the locator's generation."""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.divisions import parents
from gis.gazetteer import Gazetteer
from gis.locator import GridIndex
from layers.register import store as register


def aliases_of(value: str | None) -> tuple[str, ...]:
    """Other names as the interchange format writes them: ``;``-separated (、 and ； too)."""
    if not value:
        return ()
    return tuple(a.strip() for a in value.replace("；", ";").replace("、", ";").split(";")
                 if a.strip())


def build(session: Session, areas: dict[str, dict], index: GridIndex) -> Gazetteer:
    """``areas``: the locator's code → {code, name, level, aliases}; ``index``: its grids."""
    roads = session.execute(text("""
        SELECT name, properties->>'aliases' AS aliases FROM roads
        UNION SELECT DISTINCT road, NULL FROM standard_addresses WHERE road IS NOT NULL
    """)).all()
    by_level: dict[str, list[dict]] = {}
    for area in areas.values():
        by_level.setdefault(area["level"], []).append(area)
    aliases = {a["name"]: tuple(a["aliases"]) for a in areas.values() if a["aliases"]}
    aliases |= {r.name: aliases_of(r.aliases) for r in roads if r.aliases}
    districts = by_level.get("district", [])
    gazetteer = Gazetteer.for_district(
        [a["name"] for a in districts], [a["name"] for a in by_level.get("street", [])],
        [a["name"] for a in by_level.get("community", [])], [r.name for r in roads], aliases,
        tuple(dict.fromkeys(p for a in districts for p in parents(a["code"]))))
    rows = session.execute(text("""
        SELECT s.code, s.kind, s.address, s.name, s.street, s.community, s.road, s.door_plate,
               s.compound, s.building, s.building_code, s.place_kind, s.aliases, b.address AS written,
               ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
        FROM standard_addresses s LEFT JOIN buildings b ON b.code = s.building_code
        ORDER BY s.kind = 'compound', s.code
    """)).all()
    others = session.execute(text("""
        SELECT code, address, name, 'building' AS kind, NULL AS aliases, ST_X(p) AS lon, ST_Y(p) AS lat
        FROM (SELECT code, address, name, ST_PointOnSurface(geom) AS p FROM buildings b
              WHERE NOT EXISTS (SELECT 1 FROM standard_addresses s WHERE s.building_code = b.code)) b
        UNION ALL
        SELECT code, COALESCE(address, name), name, kind, properties->>'aliases', ST_X(p), ST_Y(p)
        FROM (SELECT code, address, name, kind, properties, ST_PointOnSurface(geom) AS p
              FROM sites t WHERE NOT EXISTS (SELECT 1 FROM standard_addresses a
                                             WHERE a.code = t.code)) s
        ORDER BY 1
    """)).all()
    grids = _grids(index, [r.lon for r in rows] + [r.lon for r in others],
                   [r.lat for r in rows] + [r.lat for r in others])
    for r, grid in zip(rows, grids[:len(rows)], strict=True):
        parts = {"street": r.street, "community": r.community, "road": r.road,
                 "house_number": r.door_plate, "compound": r.compound, "building_no": r.building}
        if r.community and r.community.endswith("村") and not (r.road or r.compound):
            parts["village"], parts["community"] = r.community, None  # a village house
        if r.kind == "building":
            written = r.written or r.address
            gazetteer.add(r.building_code or r.code, written, r.name, r.lon, r.lat, "building", grid,
                          parts=parts, forms=(r.address,) if r.address else ())
        elif r.kind == "place":
            gazetteer.add(r.code, r.address or r.name, r.name, r.lon, r.lat,
                          r.place_kind or "place", grid, parts=parts,
                          aliases=aliases_of(r.aliases))
        else:  # a compound: its name as written and its other names
            gazetteer.name_compound(r.compound or r.name, r.name, aliases_of(r.aliases))
    for r, grid in zip(others, grids[len(rows):], strict=True):
        gazetteer.add(r.code, r.address, r.name, r.lon, r.lat, r.kind, grid,
                      aliases=aliases_of(r.aliases))
    _areas(gazetteer, by_level.get("community", []), index)
    organisations = register.organisation_places(session)
    gazetteer.organisations_later([  # indexed when a search first needs them (most of the build)
        (r.building, r.name, r.address, r.lon, r.lat, grid) for r, grid in zip(
            organisations, _grids(index, [r.lon for r in organisations],
                                  [r.lat for r in organisations]), strict=True)])
    return gazetteer


def _grids(index: GridIndex, lon: list[float], lat: list[float]) -> list[str | None]:
    if not lon:
        return []
    found = index.locate(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)).grid
    return [str(index.codes[g]) if g >= 0 else None for g in found]


def _areas(gazetteer: Gazetteer, communities: list[dict], index: GridIndex) -> None:
    """Each community and village with its grids (and a point in its first grid)."""
    by_parent: dict[str, list[int]] = {}
    for g, code in enumerate(index.codes):
        by_parent.setdefault(str(code)[:12], []).append(g)
    for area in communities:
        members = by_parent.get(area["code"], [])
        if not members:
            continue
        point = shapely.point_on_surface(index.geoms[members[0]])
        gazetteer.add_area(area["code"], area["name"], tuple(str(index.codes[g]) for g in members),
                           point.x, point.y, tuple(area["aliases"]))
