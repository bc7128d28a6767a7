"""Liveness: is the process up, can it reach PostGIS, which generation is active."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import allowed
from layers.storage import health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz(request: Request, _: allowed("health")) -> dict:
    return health.check(request.app.state.sessionmaker)
