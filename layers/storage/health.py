"""Is the process alive (``/healthz``), is it ready to serve (``/readyz``: database reachable,
schema at the head revision, locator built), which PostGIS and schema revision, which generation
is active — also for ``gridmap db status``."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from layers.boundaries import generations
from layers.storage.migrate import current_revision_of, head_revision


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


def readiness(session_factory, locator_ready: bool, key_check=None,
              replica_factory=None) -> tuple[bool, dict]:
    """(ready, detail): a load balancer sends traffic only where all the checks pass;
    ``key_check(connection)`` raises when the register key cannot read the stored data;
    ``replica_factory`` (reads go to a replica) adds the replica: reachable, and how far its
    replay is behind the primary."""
    checks = {"database": False, "schema": False, "locator": locator_ready}
    if replica_factory is not None:
        checks["replica"] = False
    if key_check is not None:
        checks["register_key"] = False
    detail: dict = {}
    try:
        with session_factory() as session:
            session.execute(text("SELECT 1"))
            checks["database"] = True
            current, head = current_revision_of(session.connection()), head_revision()
            checks["schema"] = current == head
            detail["schema_revision"] = {"current": current, "head": head}
            detail["active_generation"] = _active(session)
            if key_check is not None and checks["schema"]:
                try:
                    key_check(session.connection())
                    checks["register_key"] = True
                except Exception as exc:  # noqa: BLE001 - reported, never raised
                    detail["register_key_error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - readiness reports, it never raises
        detail["database_error"] = type(exc).__name__
    if replica_factory is not None:
        try:
            with replica_factory() as session:
                standby, lag_s = session.execute(text(
                    "SELECT pg_is_in_recovery(), "
                    "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())")).one()
            checks["replica"] = True
            detail["replica"] = {"in_recovery": bool(standby),
                                 "last_replay_s_ago": None if lag_s is None else float(lag_s)}
        except Exception as exc:  # noqa: BLE001 - readiness reports, it never raises
            detail["replica_error"] = type(exc).__name__
    return all(checks.values()), {"ready": all(checks.values()), "checks": checks, **detail}
