"""A scratch database for benchmarks, on the same server gridmap uses (never its own data)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
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
def served(env: dict, first_port: int, *, workers: int = 1, app: str = "api.main:app",
           ready: str = "/readyz", quiet: bool = False) -> Iterator[str]:
    """``app`` (gridmap) under uvicorn with ``env`` and ``workers`` processes, on a free port from
    ``first_port``, once ``ready`` answers (gridmap's ``/readyz``: database, schema, locator,
    register key); yields its base URL. ``quiet``: its standard error (the access log) is
    dropped, as a service's goes to a file rather than a terminal."""
    from layers.storage.cluster import pick_free_port

    port = pick_free_port(first_port)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--port", str(port),
                               "--workers", str(workers), "--log-level", "warning"], env=env,
                              stderr=subprocess.DEVNULL if quiet else None)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + ready).read()
                break
            except OSError:  # not up yet, or 503 until ready
                time.sleep(1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def register_points(engine, rows: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A register-sized CSV (``id,lon,lat``) at ``path``: ``rows`` residents around the loaded
    city's buildings, as many per building as it has people; returns their lon and lat."""
    from sqlalchemy import text

    with engine.connect() as conn:
        b = conn.execute(text("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)), "
                              "population FROM buildings")).all()
    xs, ys, pop = (np.array(c, dtype=float) for c in zip(*b, strict=True))
    rng = np.random.default_rng(3)
    idx = rng.choice(len(xs), rows, p=pop / pop.sum())
    lon = xs[idx] + rng.normal(0, 5e-5, rows)
    lat = ys[idx] + rng.normal(0, 5e-5, rows)
    with path.open("w") as f:
        f.write("id,lon,lat\n")
        f.write("".join(f"P{i:08d},{x:.7f},{y:.7f}\n"
                        for i, (x, y) in enumerate(zip(lon, lat, strict=True))))
    return lon, lat
