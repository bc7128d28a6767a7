"""Areas of the hierarchy, generations, and who covers an area."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from api.deps import IsoDate, SessionDep, allowed
from layers.access import audit
from layers.boundaries import areas, generations

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


@router.get("/areas/{code}", response_model=AreaOut, summary="One area, with its area in km²")
def get_area(
    code: AreaCode, session: SessionDep, _: allowed("areas.read"),
    at: Annotated[IsoDate | None, Query(description="answer for the boundaries of this date")] = None,
) -> AreaOut:
    gen = generations.resolve(session, at)
    info = areas.info(session, code, gen)
    return AreaOut(code=info.code, name=info.name, level=info.level, kind=info.kind,
                   parent_code=info.parent_code, children=info.children,
                   area_km2=round(info.area_km2, 3), generation=info.generation_id)


@router.get("/areas/{code}/workers", summary="Workers covering the grids of an area")
def area_workers(
    code: AreaCode, session: SessionDep,
    who: allowed("areas.workers", scope="code"),
) -> list[dict]:
    found = areas.workers_covering(session, code, generations.resolve(session, None))
    audit.record(session, who, "workers.read", code, rows=len(found))  # full phone numbers
    return found


@router.get("/generations", response_model=list[GenerationOut], tags=["generations"])
def list_generations(session: SessionDep, _: allowed("generations.read")) -> list[GenerationOut]:
    return [GenerationOut(id=g.id, name=g.name, status=g.status.value,
                          effective_from=g.effective_from, effective_to=g.effective_to)
            for g in generations.list_all(session)]


@router.get("/me", tags=["security"], summary="Who the bearer token belongs to")
def me(who: allowed("me", cookie=True)) -> dict:
    return {"name": who.name, "role": who.role.value, "scope_code": who.scope_code}
