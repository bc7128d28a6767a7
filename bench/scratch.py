"""A scratch database for benchmarks, on the same server gridmap uses (never its own data)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def served(env: dict, first_port: int) -> Iterator[str]:
    """gridmap under uvicorn with ``env``, on a free port from ``first_port``, once ``/readyz``
    says ready (database, schema, locator, register key); yields its base URL."""
    from layers.storage.cluster import pick_free_port

    port = pick_free_port(first_port)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                               "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/readyz").read()
                break
            except OSError:  # not up yet, or 503 until ready
                time.sleep(1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
