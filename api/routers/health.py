"""Liveness: is the process up, can it reach PostGIS, which generation is active."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.deps import PublicAccess
from layers.boundaries import generations
from layers.storage.migrate import current_revision_of

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz(request: Request, _: PublicAccess) -> dict:
    body: dict = {"status": "ok", "database": {"reachable": False}, "active_generation": None}
    try:
        with request.app.state.sessionmaker() as session:
            session.execute(text("SELECT 1"))
            body["database"] = {"reachable": True,
                                "schema_revision": current_revision_of(session.connection())}
            gen = generations.active(session)
            if gen is not None:
                body["active_generation"] = {
                    "id": gen.id, "name": gen.name,
                    "effective_from": gen.effective_from.isoformat() if gen.effective_from else None,
                }
    except Exception as exc:  # noqa: BLE001 - liveness must answer whatever the database does
        body["status"] = "degraded"
        body["database"]["error"] = type(exc).__name__
    return body
