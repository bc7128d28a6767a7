"""Is the database there, which PostGIS and schema revision, which generation is active — for
``/healthz`` and ``gridmap db status``."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from layers.boundaries import generations
from layers.storage.migrate import current_revision_of


def postgis_version(conn: Connection) -> str | None:
    return conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()


def check(session_factory) -> dict:
    """The liveness answer: never raises, whatever the database does."""
    body: dict = {"status": "ok", "database": {"reachable": False}, "active_generation": None}
    try:
        with session_factory() as session:
            session.execute(text("SELECT 1"))
            body["database"] = {"reachable": True,
                                "schema_revision": current_revision_of(session.connection())}
            body["active_generation"] = _active(session)
    except Exception as exc:  # noqa: BLE001 - liveness must answer whatever the database does
        body["status"] = "degraded"
        body["database"]["error"] = type(exc).__name__
    return body


def _active(session: Session) -> dict | None:
    gen = generations.active(session)
    if gen is None:
        return None
    return {"id": gen.id, "name": gen.name,
            "effective_from": gen.effective_from.isoformat() if gen.effective_from else None}
