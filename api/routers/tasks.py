"""Department task orders (下单到网格): a department places a task into an area, workers take
their grid's share. Thin: the flow is layers/field/tasks.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.deps import IdempotencyKey, RowId, SessionDep, active_locator, allowed, now
from layers.field import tasks

router = APIRouter(tags=["field work"])

AreaCode = Annotated[str, Field(pattern=r"^\d{6,15}$")]


class TaskIn(BaseModel):
    """A task order: an area (codes) or a drawn polygon, a deadline in the future."""

    title: str = Field(min_length=1, max_length=200)
    instructions: str | None = Field(default=None, max_length=4000)
    category: Literal[tuple(tasks.CATEGORIES)] = "general"  # type: ignore[valid-type]
    deadline: dt.datetime = Field(description="an ISO time, e.g. 2026-12-05T18:00+08:00 (without "
                                              "a zone: Beijing time)")
    area: list[AreaCode] | None = Field(default=None, min_length=1, max_length=500,
                                        description="district, street, community or grid codes")
    polygon: dict | None = Field(default=None, description="a GeoJSON Polygon or MultiPolygon")
    crs: str = Field(default="wgs84", max_length=40, description="of the polygon")
    attachments: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=20)
    department: str | None = Field(default=None, max_length=100, description=(
        "for a dispatcher or admin ordering on a department's behalf"))


class StepIn(BaseModel):
    action: Literal[tuple(tasks.ACTIONS)]  # type: ignore[valid-type]
    note: str | None = Field(default=None, max_length=2000)
    photos: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=10)
    case_category: str | None = Field(default=None, max_length=20,
                                      description="escalate: the case's category")
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)


@router.post("/v1/tasks", status_code=201,
             responses={200: {"description": "a resend with the same Idempotency-Key: the task "
                                             "placed the first time"}},
             summary="Place a task into an area (codes or a drawn polygon): one grid task per "
                     "covered grid, assigned to its worker (or its specialist by category)")
def create(request: Request, response: Response, body: TaskIn, session: SessionDep,
           who: allowed("task.create", cookie=True), key: IdempotencyKey = None) -> dict:
    answer, created = tasks.create(session, active_locator(request), who,
                                   tasks.Order(**body.model_dump()), now=now(request),
                                   limits=request.app.state.limits, key=key)
    if not created:
        response.status_code = 200
    return answer


@router.get("/v1/tasks", summary="The caller's tasks (a department's own), newest first, with "
                                 "their progress")
def listing(request: Request, session: SessionDep, who: allowed("task.read", cookie=True)) -> dict:
    return tasks.listing(session, who, now=now(request))


@router.get("/v1/tasks/mine", summary="A worker's grid tasks, open ones first by deadline")
def mine(request: Request, session: SessionDep, who: allowed("task.mine", cookie=True)) -> dict:
    return tasks.mine(session, active_locator(request), who, now=now(request))


@router.get("/v1/tasks/{task_id}", summary="A task's progress by street, community and grid, "
                                           "and its overdue grid tasks")
def get(task_id: RowId, request: Request, session: SessionDep,
        who: allowed("task.read", cookie=True)) -> dict:
    return tasks.get(session, active_locator(request), who, task_id, now=now(request))


@router.post("/v1/grid-tasks/{grid_task_id}/transitions",
             summary="accept | progress | complete a grid task, or escalate it into a case")
def transition(grid_task_id: RowId, request: Request, body: StepIn, session: SessionDep,
               who: allowed("task.act", cookie=True), key: IdempotencyKey = None) -> dict:
    answer = tasks.transition(session, active_locator(request), who, grid_task_id,
                              tasks.Step(**body.model_dump()), now=now(request), key=key)
    return answer
