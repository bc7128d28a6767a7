"""What the test modules share, in one place: paths and fixed moments, the demo city built once per
session, databases copied from templates, a real server on a socket nobody else can take, and
waiting for what another process does. Test modules import from here (and get fixtures from
conftest.py); no test module imports another.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import pickle
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import make_url, text

from layers import clock
from layers.clock import CHINA

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = ROOT / "data" / "boundaries" / "370811.geojson"
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent / "screenshots"
# The register's personal data is encrypted at rest; tests use a key of their own (never a real one).
TEST_REGISTER_KEY = "dGVzdC1rZXktb2YtZ3JpZG1hcC10ZXN0cy0wMDAwMDA="
# Each pytest-xdist worker has a cluster of its own; with GRIDMAP_TEST_DATABASE_URL they share one
# server, so every database a session makes carries the worker's name.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEMPLATE = f"gridmap_test_template_{WORKER}"
CITY_TEMPLATE = f"gridmap_test_city_{WORKER}"
# How long a test waits for what another process does before it fails: a bound for a broken
# test, never a timing that a passing test must meet (a busy 2-core machine is many times slower
# than a quiet one; timings belong in bench/).
PATIENCE_S = 300.0

MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=CHINA)
# The demo's boundaries take effect on the day they are loaded: plan on the real calendar, in
# Beijing time as layers.clock keeps it (the UTC date is the day before from 00:00 to 08:00 in
# China, and a plan published "today" by UTC's date would fall before the day the CLI, on the
# real clock, published the last one).
NOW = clock.now()


class Clock:
    def __init__(self, t: dt.datetime):
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


def real_png() -> bytes:
    """A small but real photo (photos are checked by decoding them)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


# -- the demo city, generated once per session ------------------------------------------------------
@cache
def _pickled_city(scale: float) -> bytes:
    from layers.demo.city import generate

    return pickle.dumps(generate(BOUNDARY, scale=scale), protocol=pickle.HIGHEST_PROTOCOL)


def small_city(scale: float = 0.05):
    """The demo city of Rencheng at ``scale`` (deterministic for a scale): generated once per
    session (seconds), handed out as a copy of its own (a few tenths of a second), so that a module
    that changes its frames cannot change another's."""
    return pickle.loads(_pickled_city(scale))


def full_city():
    """The whole demo city of Rencheng (scale 1.0; a minute of CPU to generate), once per session."""
    return small_city(1.0)


# -- databases --------------------------------------------------------------------------------------
def _psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def admin(server: str) -> psycopg.Connection:
    return psycopg.connect(_psycopg_dsn(server), autocommit=True)


def new_database(server_url: str, template: str = TEMPLATE) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    with admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Dropper:
    """Drops a test's database after the test, beside the next one: a DROP DATABASE waits for a
    checkpoint (~0.1 s), and ~330 tests copy a database each. ``drain`` waits for every drop
    (the session's end, before the cluster goes); a drop that fails fails the drain."""

    def __init__(self) -> None:
        import queue
        import threading

        self.pending: queue.Queue = queue.Queue()
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, name="test-db-dropper", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            server_url, url = self.pending.get()
            try:
                drop_database(server_url, url)
            except Exception as exc:  # noqa: BLE001 — reported by drain()
                self.failures.append(f"{make_url(url).database}: {exc!r}")
            finally:
                self.pending.task_done()

    def drain(self) -> None:
        self.pending.join()
        assert not self.failures, self.failures


_dropper: _Dropper | None = None


def drop_later(server_url: str, url: str) -> None:
    """``drop_database`` in the background (see :class:`_Dropper`)."""
    global _dropper
    if _dropper is None:
        _dropper = _Dropper()
    _dropper.pending.put((server_url, url))


def drain_drops() -> None:
    """Wait until every database given to :func:`drop_later` is dropped."""
    if _dropper is not None:
        _dropper.drain()


@contextmanager
def scratch_database(server_url: str, pool_size: int = 1, *, template: str = TEMPLATE):
    """A migrated database of its own (empty, or a copy of ``template``), with an engine; dropped
    afterwards. For module fixtures and for tests that need a second database beside ``db_url``."""
    from layers.storage.db import make_engine

    url = new_database(server_url, template)
    engine = make_engine(url, pool_size=pool_size)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database(server_url, url)


# -- waiting for another process --------------------------------------------------------------------
def eventually(predicate, seconds: float = PATIENCE_S) -> bool:
    """True as soon as ``predicate()`` holds, False if it still does not after ``seconds``: for
    what another process's change reaches us by NOTIFY (milliseconds, never synchronous). The
    bound only ends a broken test; a passing one returns as soon as the change arrives."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def listening_socket() -> socket.socket:
    """A loopback socket already bound and listening on a port the kernel chose: a server handed
    it (uvicorn --fd) cannot lose its port to another process between choosing and binding."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def wait_until_serving(server: subprocess.Popen, base: str) -> None:
    """Until ``base``/healthz answers; fails at once if the server exits instead."""
    import urllib.request

    def answers() -> bool:
        assert server.poll() is None, f"the server exited ({server.returncode}) before it answered"
        try:
            urllib.request.urlopen(base + "/healthz", timeout=10)
            return True
        except OSError:
            return False

    assert eventually(answers), "gridmap did not start"


@contextmanager
def live_server(database_url: str, **env: str) -> Iterator[str]:
    """A real ``uvicorn`` serving gridmap on a loopback port of its own, for clients that need HTTP
    (Chromium, GDAL); yields its base URL."""
    environment = {**os.environ, "GRIDMAP_DATABASE_URL": database_url,
                   "GRIDMAP_ESCALATION_INTERVAL_S": "0", **env}
    sock = listening_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # a stop waits at most 5 s for open live streams (the desk's Server-Sent Events)
    with sock:
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app",
                                   "--fd", str(sock.fileno()), "--log-level", "warning",
                                   "--timeout-graceful-shutdown", "5"],
                                  env=environment, pass_fds=(sock.fileno(),))
    try:
        wait_until_serving(server, base)
        # the first locator is built beside the serving process (it answers 503 meanwhile):
        # clients start once it is ready, or once it says there are no boundaries to index
        assert eventually(lambda: _ready_or_empty(base), 600), "gridmap never became ready"
        yield base
    finally:
        server.terminate()
        server.wait(timeout=60)


@contextmanager
def gridmap_serve(env: dict[str, str], stdout=subprocess.DEVNULL) -> Iterator[str]:
    """``gridmap serve`` as run in production, on a free loopback port; yields its base URL once
    it answers. The command binds its own port, so a port another process takes between our
    choosing and its binding makes it exit: it is then started again on another one."""
    from layers.storage.cluster import pick_free_port

    gridmap = str(Path(sys.executable).with_name("gridmap"))
    for attempt in range(5):
        port = pick_free_port(18700 + 40 * (attempt + _worker_number()))
        server = subprocess.Popen([gridmap, "serve", "--port", str(port)], env=env,
                                  stdout=stdout, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_serving(server, base)
            except AssertionError:
                if server.poll() is not None and attempt < 4:
                    continue  # lost its port: another one
                raise
            yield base
            return
        finally:
            server.terminate()
            server.wait(timeout=60)


def _worker_number() -> int:
    return int(WORKER[2:]) if WORKER.startswith("gw") else 0


def _ready_or_empty(base: str) -> bool:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/readyz", timeout=10):
            return True
    except urllib.error.HTTPError as not_ready:
        body = json.loads(not_ready.read() or b"{}")
        return body.get("active_generation") is None and body.get("checks", {}).get("database")
    except OSError:
        return False


# -- clients ----------------------------------------------------------------------------------------
def sign_in(client, token: str, *, page: str = "/map/login", next_url: str | None = None):
    """Sign a test client's browser in as a page does: open the sign-in form (which gives its
    form token and the login cookie), post it back with the token; the redirect answer."""
    import re

    form_page = "/m/" if page == "/m/login" else page
    html = client.get(form_page).text
    form_token = re.search(r"name='form_token' value='([^']*)'", html).group(1)
    data = {"token": token, "form_token": form_token}
    if next_url is not None:
        data["next"] = next_url
    return client.post(page, data=data, follow_redirects=False)


@contextmanager
def city_with_register(server_url: str, city_template: str, clock):
    """The small demo city (a copy of ``city_template``) and its register in a database of their
    own, and a client of an app on it whose clock is ``clock``; yields (client, engine, city)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from layers.demo.register import load as load_register

    city = small_city()
    with scratch_database(server_url, pool_size=3, template=city_template) as (url, engine):
        app = create_app(url=url)
        app.state.clock = clock
        load_register(engine, app.state.cipher, scale=0.05, today=clock().date())
        with TestClient(app) as client:
            yield client, engine, city


# -- planning ---------------------------------------------------------------------------------------
def _community_with_grids(city, n: int = 2):
    areas = city.layers["areas"]
    grids = areas[(areas.level == "grid") & (areas.kind == "comprehensive")]
    for community, members in grids.groupby(grids.code.str[:12]):
        if len(members) >= n:
            pair = members.sort_values("code").iloc[:n]
            shared = pair.geometry.iloc[0].intersection(pair.geometry.iloc[1]).length if n > 1 else 1
            if shared > 1e-4:  # neighbours along an edge (about 10 m or more), not at a corner
                return community, pair
    raise AssertionError("no community with adjacent grids")


@contextmanager
def planning_app(db_url, engine, city, monkeypatch, *, planner_scope: str | None = None,
                 planner_name: str = "planner"):
    """An app on the test's database (a copy of the small demo city: ``city_db_url``), with a
    planner's token (scoped as asked): (client, headers)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from layers.access import users
    from layers.storage.db import session_scope

    monkeypatch.setenv("GRIDMAP_ESCALATION_INTERVAL_S", "0")
    from gridmap.settings import get_settings

    get_settings.cache_clear()
    app = create_app(url=db_url)
    app.state.clock = Clock(NOW)
    with TestClient(app) as client:
        with session_scope(engine) as session:
            token = users.add(session, planner_name, "planner", planner_scope)[1]
        yield client, {"Authorization": f"Bearer {token}"}
    get_settings.cache_clear()


def _along_a_lane(city, grid) -> dict:
    """A split line as a planner draws it: along a lane of the grid, drawn past its edges."""
    roads = city.layers["roads"]
    lane = next(g for n, g in zip(roads.name, roads.geometry, strict=True)
                if n.endswith("巷") and g.intersects(grid.buffer(-1e-5)))
    (x0, y0), (x1, y1) = lane.coords[0], lane.coords[-1]
    dx, dy = x1 - x0, y1 - y0
    k = 0.2 / (dx * dx + dy * dy) ** 0.5
    return {"type": "LineString", "coordinates": [[x0 - dx * k, y0 - dy * k], [x1 + dx * k, y1 + dy * k]]}


# -- locating ---------------------------------------------------------------------------------------
def _a_grid(city, kind="comprehensive"):
    a = city.layers["areas"]
    row = a[(a.level == "grid") & (a.kind == kind)].iloc[0]
    p = row.geometry.representative_point()
    return row, p.x, p.y


def postgis_answers(engine, generation: int, lon: np.ndarray, lat: np.ndarray):
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT p.i, g.code, g.on_boundary
            FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, i)
            LEFT JOIN LATERAL (
                SELECT code, NOT ST_Contains(geom, pt) AS on_boundary
                FROM areas, LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.x, p.y), 4326) AS pt) q
                WHERE generation_id = :g AND level = 'grid' AND ST_Covers(geom, pt)
                ORDER BY code LIMIT 1) g ON true
            ORDER BY p.i
        """), {"xs": lon.tolist(), "ys": lat.tolist(), "g": generation}).all()
    return [r.code for r in rows], [bool(r.on_boundary) if r.code else False for r in rows]


def disagreements(engine, locator, lon, lat) -> list:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    found = locator.index.locate(lon, lat)
    mine = [str(locator.index.codes[g]) if g >= 0 else None for g in found.grid]
    theirs, boundary = postgis_answers(engine, locator.generation["id"], lon, lat)
    return [(float(x), float(y), m, t, bool(b1), b2)
            for x, y, m, t, b1, b2 in zip(lon, lat, mine, theirs, found.on_boundary, boundary,
                                          strict=True)
            if m != t or (m is not None and bool(b1) != b2)]
