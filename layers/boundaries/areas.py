"""The area hierarchy (district → street/town → community/village → grid) of a generation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from layers import clock
from layers.boundaries import generations
from layers.errors import DomainError
from layers.storage.models import (
    SRID,
    Area,
    AreaLevel,
    Generation,
    GenerationStatus,
    Worker,
    WorkerAssignment,
)


class AreaNotFound(DomainError, LookupError):
    code = "area_not_found"


@dataclass(frozen=True)
class AreaInfo:
    code: str
    name: str
    level: str
    kind: str | None
    parent_code: str | None
    generation_id: int
    area_km2: float  # geodesic, from PostGIS geography
    children: int


def find(session: Session, code: str, generation: Generation) -> Area:
    area = session.scalars(
        select(Area).where(Area.generation_id == generation.id, Area.code == code)
    ).one_or_none()
    if area is None:
        raise AreaNotFound(f"no area with code {code} in generation {generation.id}")
    return area


def info(session: Session, code: str, generation: Generation) -> AreaInfo:
    """An area's facts, with its area computed in metres on the ellipsoid (geography)."""
    area = find(session, code, generation)
    km2, parent_code, children = session.execute(
        select(
            func.ST_Area(func.geography(Area.geom)) / 1e6,
            select(Area.code).where(Area.id == area.parent_id).scalar_subquery(),
            select(func.count()).where(Area.parent_id == area.id).scalar_subquery(),
        ).where(Area.id == area.id)
    ).one()
    return AreaInfo(
        code=area.code, name=area.name, level=area.level.value,
        kind=area.kind.value if area.kind else None, parent_code=parent_code,
        generation_id=generation.id, area_km2=float(km2), children=int(children),
    )


def workers_covering(session: Session, code: str, generation: Generation) -> list[dict]:
    """Every worker assigned to a grid of the area (phones in full: the caller is staff)."""
    find(session, code, generation)  # AreaNotFound for unknown areas
    grid_codes = select(Area.code).where(Area.generation_id == generation.id,
                                         Area.level == AreaLevel.GRID, Area.code.startswith(code))
    rows = session.execute(
        select(Worker.code, Worker.name, Worker.phone, WorkerAssignment.role,
               WorkerAssignment.grid_code)
        .join(WorkerAssignment)
        .where(WorkerAssignment.grid_code.in_(grid_codes))
        .order_by(WorkerAssignment.grid_code, Worker.code)
    ).all()
    return [{"code": r.code, "name": r.name, "phone": r.phone, "role": r.role.value,
             "grid_code": r.grid_code} for r in rows]


def names(session: Session, codes: list[str]) -> dict[str, str]:
    """The names of area codes as people know them: an area's in the generation in force, or —
    for an area since redrawn away — its last published (then drafted) name. Statistics and
    reports put them beside their codes."""
    if not codes:
        return {}
    return dict(session.execute(text("""
        SELECT DISTINCT ON (a.code) a.code, a.name FROM areas a
        JOIN generations g ON g.id = a.generation_id
        WHERE a.code = ANY(:codes)
        ORDER BY a.code, (g.status = 'active') DESC, (g.status <> 'draft') DESC,
                 a.generation_id DESC"""), {"codes": list(codes)}).all())


def active_grid_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Area).join(Generation).where(
        Generation.status == GenerationStatus.ACTIVE, Area.level == AreaLevel.GRID)).scalar_one()


def read_district(path: Path) -> tuple[dict, shapely.Geometry]:
    """The properties and geometry of the one ``district`` feature of an areas GeoJSON file."""
    collection = json.loads(path.read_text(encoding="utf-8"))
    (feature,) = [f for f in collection["features"] if f["properties"]["level"] == "district"]
    return feature["properties"], shapely.geometry.shape(feature["geometry"])


def load_district_boundary(session: Session, path: Path) -> tuple[Generation, bool]:
    """Put the district polygon of ``path`` (an ``areas`` GeoJSON) into the active generation.

    On an empty database this creates the first generation, active from today. Loading the same
    file again changes nothing; a changed polygon updates the district in place. Returns the
    generation and whether anything was written.
    """
    props, geom = read_district(path)
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    if not geom.is_valid:
        raise ValueError(f"{path}: district polygon is invalid: {shapely.is_valid_reason(geom)}")

    generation = generations.active(session)
    if generation is None:
        generation = Generation(name="初始边界 initial boundaries", status=GenerationStatus.ACTIVE,
                                effective_from=clock.today(), published_at=func.now())
        session.add(generation)
        session.flush()
    existing = session.scalars(
        select(Area).where(Area.generation_id == generation.id, Area.code == props["code"])
    ).one_or_none()
    wkb = from_shape(geom, srid=SRID)
    if existing is None:
        session.add(Area(generation_id=generation.id, code=props["code"], name=props["name"],
                         level=AreaLevel.DISTRICT, geom=wkb))
        return generation, True
    same = session.scalar(select(func.ST_Equals(existing.geom, wkb)))
    if same and existing.name == props["name"]:
        return generation, False
    existing.name = props["name"]
    existing.geom = wkb
    return generation, True
