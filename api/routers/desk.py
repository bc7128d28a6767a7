"""The dispatcher's desk: its page (``/desk``), the queue and one case as the desk shows them,
and the live feed (Server-Sent Events). Every write the page makes goes to the API's own routes
(``/v1/cases/{id}/transitions``, ``/responses``, …) with their own actions; the queries are
layers/cases/desk.py and layers/cases/feed.py, the page map_ui/desk.py."""

from __future__ import annotations

import json
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api.deps import ReadSessionDep, RowId, SessionDep, allowed, now
from api.pages import csrf_of, gated
from layers.cases import desk, feed
from layers.field.tasks import CATEGORIES as TASK_CATEGORIES
from layers.maps import queries
from map_ui import desk as desk_page
from map_ui import rules
from map_ui.pages import MapSettings

router = APIRouter(tags=["desk"])
HTML = {200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "a page"},
        303: {"description": "sign in first"}, 403: {"description": "this role may not enter"}}
CaseReader = allowed("case.read", cookie=True)
HEARTBEAT_S = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream


@router.get("/desk", summary="The dispatcher's desk (sign in first)", response_class=Response,
            responses=HTML)
def desk_view(request: Request, session: ReadSessionDep,
              who: allowed("map.public", cookie=True)) -> Response:
    return gated(request, who, "desk.use", "调度台",
                 lambda: desk_page.desk(who, **_map_page(request, session, who)))


@router.get("/desk/stats", summary="Case statistics as a page: charts, names with codes, export",
            response_class=Response, responses=HTML)
def stats_view(request: Request, session: ReadSessionDep,
               who: allowed("map.public", cookie=True)) -> Response:
    return gated(request, who, "stats.read", "统计分析", lambda: desk_page.stats(
        who, filters=queries.filter_choices(session, who.scope_code)))


@router.get("/desk/register", summary="The register search page (persons, dwellings, "
            "organisations, the month's visits)", response_class=Response, responses=HTML)
def register_view(request: Request, who: allowed("map.public", cookie=True)) -> Response:
    return gated(request, who, "person.read", "实有人口", lambda: desk_page.register(who))


@router.get("/desk/tasks", summary="Department task orders: place one by area or drawn "
            "polygon, follow it per grid", response_class=Response, responses=HTML)
def tasks_view(request: Request, session: ReadSessionDep,
               who: allowed("map.public", cookie=True)) -> Response:
    return gated(request, who, "task.read", "部门任务",
                 lambda: desk_page.tasks(who, categories=TASK_CATEGORIES,
                                         **_map_page(request, session, who)))


@router.get("/desk/addresses", summary="The standard-address gazetteer as a page: search, "
            "change, add, remove", response_class=Response, responses=HTML)
def addresses_view(request: Request, who: allowed("map.public", cookie=True)) -> Response:
    return gated(request, who, "address.write", "标准地址",
                 lambda: desk_page.addresses(who, csrf=csrf_of(request)))


@router.get("/desk/routing", summary="The case routing table as a page: who handles each "
            "category, its time limit and duplicate radius; saved as a new version",
            response_class=Response, responses=HTML)
def routing_view(request: Request, who: allowed("map.public", cookie=True)) -> Response:
    return gated(request, who, "routing.write", "路由规则",
                 lambda: rules.routing_page(who, csrf=csrf_of(request)))


@router.get("/desk/weights", summary="The worker assessment's weights as a page, with their "
            "versions", response_class=Response, responses=HTML)
def weights_view(request: Request, who: allowed("map.public", cookie=True)) -> Response:
    return gated(request, who, "assessment.weights", "考核权重",
                 lambda: rules.weights_page(who, csrf=csrf_of(request)))


@router.get("/v1/desk/queue", summary="The desk's case queue: filters, counts, deadline first")
def case_queue(
    request: Request, session: SessionDep, who: CaseReader,
    state: Literal["open", "closed", "all"] = "open",
    status: Annotated[list[str] | None, Query(max_length=10)] = None,
    overdue: bool = False, escalated: bool = False, supervised: bool = False,
    category: Annotated[str | None, Query(max_length=20)] = None,
    area: Annotated[str | None, Query(pattern=r"^\d{6,15}$",
                                      description="a street, community or grid code")] = None,
    source: Annotated[str | None, Query(max_length=20)] = None,
    days: Annotated[int | None, Query(ge=1, le=3660, description="created in the last days")] = None,
    sort: Literal["deadline", "newest"] = "deadline",
    limit: Annotated[int, Query(ge=1, le=desk.MAX_QUEUE)] = 1000,
) -> dict:
    return desk.queue(session, who, desk.QueueFilter(
        state=state, status=tuple(status or ()), overdue=overdue, escalated=escalated,
        supervised=supervised, category=category or None, area=area or None,
        source=source or None, days=days, sort=sort, limit=limit), now=now(request))


@router.get("/v1/desk/cases/{case_id}", summary="One case as the desk shows it: timeline, grid "
            "and workers, cameras, loudspeakers, duplicates, the actions the caller may take")
def case_detail(request: Request, case_id: RowId, session: SessionDep, who: CaseReader) -> dict:
    return desk.detail(session, who, case_id, now=now(request))


@router.get("/v1/desk/events", summary="Live: case events as Server-Sent Events (new cases, "
            "every status change), inside the caller's scope", response_class=Response,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "event: case, data: JSON, id: the resume cursor"}})
async def case_events(
    request: Request, who: CaseReader,
    after: Annotated[int | None, Query(ge=0, le=2**31 - 1,
                                       description="the last event id seen; default: now")] = None,
    timeout: Annotated[float, Query(ge=0, le=600, description="seconds to keep the stream open "
                                    "(0: what is there now, then close); the browser reconnects "
                                    "with Last-Event-ID")] = 300,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    start = after if after is not None else _event_id(last_event_id)
    if start is None:
        start = await run_in_threadpool(_read, request, feed.latest)
    cursor = feed.Cursor(start)
    signal: feed.ChangeSignal = request.app.state.case_feed

    def read() -> list[dict]:
        with request.app.state.sessionmaker() as session:
            return cursor.read(session, scope=who.scope_code)

    async def stream():
        yield f"retry: 3000\nid: {cursor.settled}\n\n"
        ends = time.monotonic() + timeout
        while True:
            seen = signal.generation  # before reading: a change after it wakes the wait at once
            for event in await run_in_threadpool(read):
                yield (f"id: {cursor.settled}\nevent: case\n"
                       f"data: {json.dumps(event, ensure_ascii=False)}\n\n")
            if cursor.more:
                continue
            left = ends - time.monotonic()
            if left <= 0 or await request.is_disconnected():
                return
            if await signal.wait(seen, min(HEARTBEAT_S, left)) == seen:
                yield ": 心跳\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _map_page(request: Request, session, who) -> dict:
    """What a staff page with a map needs: the CSRF token of its writes, its filters' choices
    and the street outlines inside the caller's scope, and the basemap."""
    s = request.app.state.settings
    ms = MapSettings(s.basemap_url, s.basemap_datum, s.basemap_attribution)
    return {"csrf": csrf_of(request), "filters": queries.filter_choices(session, who.scope_code),
            "outlines": ms.shift(queries.outlines(session, "street", scope=who.scope_code)),
            "basemap": (ms.url, ms.datum, ms.attribution)}


def _event_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) <= 10 else None


def _read(request: Request, query):
    with request.app.state.sessionmaker() as session:
        return query(session)
