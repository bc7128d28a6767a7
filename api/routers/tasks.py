"""Department task orders (下单到网格): a department places a task into an area, workers take
their grid's share. Thin: the flow is layers/field/tasks.py."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import RowId, SessionDep, active_locator, allowed, now
from layers.field import tasks

router = APIRouter(tags=["field work"])

_TASK_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["title", "deadline"],
    "properties": {
        "title": {"type": "string", "maxLength": 200},
        "instructions": {"type": "string", "maxLength": 4000},
        "category": {"type": "string", "enum": list(tasks.CATEGORIES)},
        "deadline": {"type": "string", "format": "date-time"},
        "area": {"type": "array", "items": {"type": "string", "pattern": r"^\d{6,15}$"}},
        "polygon": {"type": "object", "description": "GeoJSON Polygon/MultiPolygon"},
        "crs": {"type": "string", "description": "of the polygon; default wgs84"},
        "attachments": {"type": "array", "items": {"type": "string", "maxLength": 500}},
        "department": {"type": "string", "description": "for a dispatcher or admin ordering "
                                                        "on a department's behalf"}}}}}}}
_TRANSITION_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": list(tasks.ACTIONS)},
        "note": {"type": "string", "maxLength": 2000},
        "photos": {"type": "array", "items": {"type": "string", "maxLength": 500}},
        "case_category": {"type": "string", "description": "escalate: the case's category"},
        "lon": {"type": "number"}, "lat": {"type": "number"}}}}}}}


async def _json(request: Request) -> object:
    try:
        return json.loads(await request.body())  # the body is capped by api/guards.py
    except (ValueError, RecursionError):
        raise tasks.BadTask("send a JSON object", zh="请求格式有误") from None


@router.post("/v1/tasks", status_code=201, openapi_extra=_TASK_BODY,
             responses={200: {"description": "a resend with the same Idempotency-Key: the task "
                                             "placed the first time"}},
             summary="Place a task into an area (codes or a drawn polygon): one grid task per "
                     "covered grid, assigned to its worker (or its specialist by category)")
async def create(request: Request, response: Response, session: SessionDep,
                 who: allowed("task.create", cookie=True)) -> dict:
    body = await _json(request)
    key = request.headers.get("idempotency-key")

    def work() -> tuple[dict, bool]:
        answer, created = tasks.create(session, active_locator(request), who, body, now=now(request),
                                       key=key[:80] if key else None)
        session.commit()
        return answer, created

    answer, created = await run_in_threadpool(work)
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


@router.post("/v1/grid-tasks/{grid_task_id}/transitions", openapi_extra=_TRANSITION_BODY,
             summary="accept | progress | complete a grid task, or escalate it into a case")
async def transition(grid_task_id: RowId, request: Request, session: SessionDep,
                     who: allowed("task.act", cookie=True)) -> dict:
    body = await _json(request)

    def work() -> dict:
        answer = tasks.transition(session, active_locator(request), who, grid_task_id, body,
                                  now=now(request))
        session.commit()
        return answer

    return await run_in_threadpool(work)
