"""Liveness (``/healthz``: the process answers; with what it knows of the database) and
readiness (``/readyz``: 503 until the database is reachable, the schema current and the locator
built — what a load balancer or compose health check should ask). Neither waits for the locator:
it is built in the rebuild thread (layers/locating/locators.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.deps import SessionDep, allowed
from layers.cases.statistics import open_backlog
from layers.register.crypto import check_key_on
from layers.storage import health

router = APIRouter(tags=["health"])


# HEAD is what load balancers ask; documented once, under GET (one operation id per route)
@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", summary="Liveness and database reachability")
def healthz(request: Request, _: allowed("health")) -> dict:
    return health.check(request.app.state.sessionmaker)


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", summary="Readiness: database reachable, schema current, locator built, "
                               "register key reads the stored data (503 until all pass)",
            responses={503: {"description": "not ready: the body says which check failed"}})
async def readyz(request: Request, _: allowed("health")) -> JSONResponse:
    locator = request.app.state.locators.ready  # never waits for a build
    cipher = request.app.state.cipher
    state = request.app.state
    ready, body = await run_in_threadpool(
        health.readiness, state.sessionmaker, locator, lambda conn: check_key_on(conn, cipher),
        state.read_sessionmaker if state.read_engine is not state.engine else None)
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics: requests and latency per route, locator "
                                "generation and build time, case backlog, escalation runs",
            response_class=Response,  # errors stay JSON in the document; the metrics are text
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "the Prometheus text format"}})
def metrics(request: Request, session: SessionDep, _: allowed("metrics.read")) -> Response:
    registry, listener = request.app.state.locators, request.app.state.listener
    gauges: dict[str, tuple[str, float]] = {
        "gridmap_case_backlog": ("Cases not yet closed, cancelled or merged.", open_backlog(session)),
        "gridmap_listening": ("1 while the process hears changes (LISTEN); 0: credentials and "
                              "locators may lag up to their refresh.", int(listener.listening)),
    }
    counters: dict[str, tuple[str, float]] = {  # only ever increase (Prometheus rate() them)
        "gridmap_locator_rebuilds_total": ("Locator rebuilds since start (NOTIFY).",
                                           registry.rebuilds),
        "gridmap_listener_reconnects_total": ("Times the LISTEN connection came back after a "
                                              "loss.", listener.reconnects),
    }
    active = registry.current
    if active is not None:  # no boundaries yet, or still indexing: no locator gauges
        gauges["gridmap_locator_generation"] = ("Id of the generation lookups answer for.",
                                                active.generation["id"])
        gauges["gridmap_locator_build_seconds"] = ("Seconds the active locator took to build.",
                                                   round(active.built_seconds, 3))
    return Response(request.app.state.metrics.exposition(gauges, counters),
                    media_type="text/plain; version=0.0.4")
