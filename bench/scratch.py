"""A scratch database for benchmarks, on the same server gridmap uses (never its own data)."""

from __future__ import annotations

import psycopg
from sqlalchemy import make_url

from layers.storage.db import database_url
from layers.storage.migrate import upgrade

SCRATCH = "gridmap_bench"


def scratch_url() -> str:
    """Drop and recreate the scratch database, migrated; return its SQLAlchemy URL."""
    url = make_url(database_url())
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    target = url.set(database=SCRATCH).render_as_string(hide_password=False)
    upgrade(target)
    return target
