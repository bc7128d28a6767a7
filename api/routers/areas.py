"""Areas of the hierarchy, generations, and who covers an area."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import PublicAccess, SessionDep
from api.errors import ApiError
from api.security import Principal, access
from layers.boundaries import areas, generations
from layers.storage.models import Area, Generation, Worker, WorkerAssignment

router = APIRouter(prefix="/v1", tags=["areas"])
AreaCode = Annotated[str, Path(pattern=r"^\d{6}(\d{3}){0,2}(\d{2,3})?$",
                               description="national area code, e.g. 370811 or 370811008")]


class AreaOut(BaseModel):
    code: str
    name: str
    level: str
    kind: str | None
    parent_code: str | None
    children: int
    area_km2: float
    generation: int


class GenerationOut(BaseModel):
    id: int
    name: str
    status: str
    effective_from: dt.date | None
    effective_to: dt.date | None


def resolve_generation(session, at: dt.date | None) -> Generation:
    gen = generations.in_force_on(session, at) if at else generations.active(session)
    if gen is None:
        when = f"on {at}" if at else "now"
        raise ApiError(404, "no_generation", f"no boundaries are in force {when}; load some with "
                       "`gridmap demo load` or `gridmap import`", "该日期没有生效的网格边界")
    return gen


@router.get("/areas/{code}", response_model=AreaOut, summary="One area, with its area in km²")
def get_area(
    code: AreaCode, session: SessionDep, _: PublicAccess,
    at: Annotated[dt.date | None, Query(description="answer for the boundaries of this date")] = None,
) -> AreaOut:
    gen = resolve_generation(session, at)
    a = areas.info(session, code, gen)
    return AreaOut(code=a.code, name=a.name, level=a.level, kind=a.kind,
                   parent_code=a.parent_code, children=a.children,
                   area_km2=round(a.area_km2, 3), generation=a.generation_id)


@router.get("/areas/{code}/workers", summary="Workers covering the grids of an area")
def area_workers(
    code: AreaCode, session: SessionDep,
    who: Annotated[Principal, Depends(access("worker", scope="code"))],
) -> list[dict]:
    gen = resolve_generation(session, None)
    areas.find(session, code, gen)  # 404 for unknown areas
    grid_codes = select(Area.code).where(Area.generation_id == gen.id, Area.level == "grid",
                                         Area.code.startswith(code))
    rows = session.execute(
        select(Worker.code, Worker.name, Worker.phone, WorkerAssignment.role,
               WorkerAssignment.grid_code)
        .join(WorkerAssignment)
        .where(WorkerAssignment.grid_code.in_(grid_codes))
        .order_by(WorkerAssignment.grid_code, Worker.code)
    ).all()
    return [{"code": r.code, "name": r.name, "phone": r.phone, "role": r.role.value,
             "grid_code": r.grid_code} for r in rows]


@router.get("/generations", response_model=list[GenerationOut], tags=["generations"])
def list_generations(session: SessionDep, _: PublicAccess) -> list[GenerationOut]:
    return [GenerationOut(id=g.id, name=g.name, status=g.status.value,
                          effective_from=g.effective_from, effective_to=g.effective_to)
            for g in generations.list_all(session)]


@router.get("/me", tags=["security"], summary="Who the bearer token belongs to")
def me(who: Annotated[Principal, Depends(access("worker"))]) -> dict:
    return {"name": who.name, "role": who.role.value, "scope_code": who.scope_code}
