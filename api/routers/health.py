"""Liveness (``/healthz``: the process answers; with what it knows of the database) and
readiness (``/readyz``: 503 until the database is reachable, the schema current and the locator
built — what a load balancer or compose health check should ask)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import allowed
from layers.register.crypto import check_key_on
from layers.storage import health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz(request: Request, _: allowed("health")) -> dict:
    return health.check(request.app.state.sessionmaker)


def _locator_ready(app) -> bool:
    if app.state.locators.ready:
        return True
    try:
        app.state.locators.active()  # builds it if the data is there
    except Exception:  # noqa: BLE001 - not ready, whatever the reason; /readyz says which check
        return False
    return True


@router.get("/readyz", summary="Readiness: database reachable, schema current, locator built, "
                               "register key reads the stored data (503 until all pass)",
            responses={503: {"description": "not ready: the body says which check failed"}})
async def readyz(request: Request, _: allowed("health")) -> JSONResponse:
    locator = await run_in_threadpool(_locator_ready, request.app)
    cipher = request.app.state.cipher
    ready, body = await run_in_threadpool(
        health.readiness, request.app.state.sessionmaker, locator,
        lambda conn: check_key_on(conn, cipher))
    return JSONResponse(body, status_code=200 if ready else 503)
