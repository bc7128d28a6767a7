"""The truth, read from the database only: every building's standard address and its parts, the
compounds, sites, organisations (实有单位) and areas, and the grid of each by PostGIS.

A thing's grid is the grid of the active generation that covers its ``ST_PointOnSurface``
(``ST_Covers``, so a point on an edge counts), the lowest code when it lies on several: the
boundary rule gridmap documents (docs/locate.md). Nothing here asks gridmap's code anything.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import create_engine, make_url, text

# GB/T 2260 names above the county, for the prefixes people write (山东省济宁市…). Only the
# province and city of the reference district are known here; other districts go without.
PROVINCES = {"37": "山东省"}
CITIES = {"3708": "济宁市"}

GRID_OF = """
    LEFT JOIN LATERAL (
        SELECT g.code FROM areas g
        WHERE g.generation_id = :gen AND g.level = 'grid'
          AND ST_Covers(g.geom, ST_PointOnSurface({geom}))
        ORDER BY g.code LIMIT 1) grid ON true"""


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    level: str
    aliases: tuple[str, ...] = ()
    grids: tuple[str, ...] = ()  # the grids under it, in the active generation


@dataclass(frozen=True)
class Room:
    unit: int
    floor: int
    room: str


@dataclass(frozen=True)
class Building:
    code: str
    address: str
    road: str  # for a village house, the village: the demo's register writes it there
    plate: str  # 门牌号 (the house number)
    compound: str | None
    building_no: str | None
    grid: str | None
    room: Room | None = None  # one real dwelling of the building, when it has any

    @property
    def is_village_house(self) -> bool:
        return self.compound is None


@dataclass(frozen=True)
class Compound:
    name: str
    road: str
    plate: str
    buildings: tuple[str, ...]  # building numbers, as written
    grids: tuple[str, ...]


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    kind: str
    address: str | None
    grid: str | None


@dataclass(frozen=True)
class Organisation:
    name: str
    kind: str
    address: str
    building: str | None
    grid: str | None


@dataclass
class Truth:
    generation: int
    district: Area
    areas: dict[str, Area]  # by code: streets, communities/villages, grids
    buildings: list[Building]
    sites: list[Site]
    organisations: list[Organisation]
    road_names: set[str] = field(default_factory=set)  # the roads table's names

    @property
    def province(self) -> str:
        return PROVINCES.get(self.district.code[:2], "")

    @property
    def city(self) -> str:
        return CITIES.get(self.district.code[:4], "")

    def street_of(self, grid: str) -> Area:
        return self.areas[grid[:9]]

    def community_of(self, grid: str) -> Area:
        return self.areas[grid[:12]]

    def compounds(self) -> dict[str, Compound]:
        """Compounds by name: their door plate and the grids their buildings stand in."""
        parts: dict[str, list[Building]] = defaultdict(list)
        for b in self.buildings:
            if b.compound:
                parts[b.compound].append(b)
        out = {}
        for name, members in sorted(parts.items()):
            plates = sorted({(m.road, m.plate) for m in members})
            road, plate = plates[0]
            out[name] = Compound(name, road, plate,
                                 tuple(sorted({m.building_no or "" for m in members})),
                                 tuple(sorted({m.grid for m in members if m.grid})))
        return out

    def names(self) -> set[str]:
        """Every proper name the data holds: compounds, sites, roads, areas (for negatives)."""
        found = {b.compound for b in self.buildings if b.compound}
        found |= {b.road for b in self.buildings} | self.road_names
        found |= {s.name for s in self.sites} | {a.name for a in self.areas.values()}
        return found

    def fingerprint(self) -> str:
        """A digest of the truth, so a report can say which data its sets were made from."""
        h = hashlib.sha256()
        for b in self.buildings:
            h.update(f"{b.code}|{b.address}|{b.grid}\n".encode())
        for s in self.sites:
            h.update(f"{s.code}|{s.name}|{s.grid}\n".encode())
        return h.hexdigest()[:16]


def _url(database_url: str) -> str:
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def read(database_url: str, seed: int = 0) -> Truth:
    """Read the truth; ``seed`` picks which dwelling stands for each building (reproducibly)."""
    engine = create_engine(_url(database_url))
    try:
        with engine.connect() as conn:
            gen = conn.scalar(text("SELECT id FROM generations WHERE status = 'active'"))
            if gen is None:
                raise SystemExit("no active generation: load a district first (gridmap demo load)")
            areas = _areas(conn, gen)
            district = next(a for a in areas.values() if a.level == "district")
            rooms = _rooms(conn, seed)
            buildings = [
                Building(code, address, props.get("road") or "", str(props.get("house_number") or ""),
                         props.get("compound"), _str(props.get("building_no")), grid,
                         rooms.get(code))
                for code, address, props, grid in conn.execute(text(
                    "SELECT b.code, b.address, b.properties, grid.code FROM buildings b"
                    + GRID_OF.format(geom="b.geom") + " ORDER BY b.code"), {"gen": gen})]
            sites = [Site(*row) for row in conn.execute(text(
                "SELECT s.code, s.name, s.kind, s.address, grid.code FROM sites s"
                + GRID_OF.format(geom="s.geom") + " ORDER BY s.code"), {"gen": gen})]
            grid_of = {b.code: b.grid for b in buildings}
            organisations = [
                Organisation(name, kind, address, building, grid_of.get(building))
                for name, kind, address, building in conn.execute(text(
                    "SELECT o.name, o.kind, o.address, b.code FROM organisations o "
                    "LEFT JOIN buildings b ON b.id = o.building_id ORDER BY o.credit_code"))]
            roads = set(conn.scalars(text("SELECT DISTINCT name FROM roads")))
    finally:
        engine.dispose()
    return Truth(gen, district, areas, buildings, sites, organisations, roads)


def _str(value) -> str | None:
    return None if value is None else str(value)


def _areas(conn, gen: int) -> dict[str, Area]:
    rows = conn.execute(text(
        "SELECT code, name, level::text, properties->>'aliases' FROM areas "
        "WHERE generation_id = :gen ORDER BY code"), {"gen": gen}).all()
    grids = sorted(code for code, _n, level, _a in rows if level == "grid")
    out = {}
    for code, name, level, aliases in rows:
        under = tuple(g for g in grids if g.startswith(code)) if level != "grid" else (code,)
        out[code] = Area(code, name, level,
                         tuple(a for a in (aliases or "").split(";") if a), under)
    return out


def _rooms(conn, seed: int) -> dict[str, Room]:
    """One dwelling per building with rooms in units (a compound's flats), chosen by a hash of
    the seed so that the same seed picks the same room."""
    rows = conn.execute(text(
        "SELECT DISTINCT ON (d.building_id) b.code, d.unit, d.floor, d.room FROM dwellings d "
        "JOIN buildings b ON b.id = d.building_id WHERE d.unit > 0 "
        "ORDER BY d.building_id, md5(d.id::text || :salt)"), {"salt": str(seed)})
    return {code: Room(unit, floor, room) for code, unit, floor, room in rows}
