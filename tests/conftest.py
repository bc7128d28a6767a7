"""Test fixtures: a throwaway PostgreSQL + PostGIS cluster for the whole session.

The session starts its own cluster (with the same code as ``gridmap db up``) in a temporary
directory, migrates one template database, and gives each test that asks for ``db_url`` a fresh
copy of it (CREATE DATABASE … TEMPLATE, ~0.1 s). Set GRIDMAP_TEST_DATABASE_URL to a superuser URL
of an existing PostGIS server to use that instead.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import make_url

from layers.storage.cluster import LocalCluster
from layers.storage.migrate import upgrade

TEMPLATE = "gridmap_test_template"
# No wall-clock deadlines: the first call of a compiled kernel (numba) takes seconds on a busy
# machine and Hypothesis would report it as a flaky failure. Timings belong in bench/.
hypothesis_settings.register_profile("gridmap", deadline=None)
hypothesis_settings.load_profile("gridmap")
# Apps made in tests do not pre-build map pages in the background (the browser tests' server does).
os.environ.setdefault("GRIDMAP_WARM_MAPS", "0")
os.environ.setdefault("GRIDMAP_ACCESS_LOG", "0")
# A request waits for the process's first locator build (GRIDMAP_LOCATOR_WAIT_S, 30 s in
# production): on a fresh clone of a busy machine compiling the kernels alone can take longer,
# and a module fixture's first request would then see 503. Tests wait as long as it takes.
os.environ.setdefault("GRIDMAP_LOCATOR_WAIT_S", "600")  # a JSON line per request would drown the output
# The register's personal data is encrypted at rest; tests use a key of their own (never a real one).
TEST_REGISTER_KEY = "dGVzdC1rZXktb2YtZ3JpZG1hcC10ZXN0cy0wMDAwMDA="
os.environ.setdefault("GRIDMAP_REGISTER_KEY", TEST_REGISTER_KEY)
ROOT = Path(__file__).resolve().parents[1]


def _psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of the maintenance database of a running PostGIS server we may create databases on."""
    external = os.environ.get("GRIDMAP_TEST_DATABASE_URL")
    if external:
        yield external
        return
    home = Path(tempfile.mkdtemp(prefix="gridmap-test-"))
    home.chmod(0o755)  # the unprivileged cluster owner must reach it when tests run as root
    cluster = LocalCluster(home)
    cluster.up()
    try:
        yield cluster.url("postgres")
    finally:
        cluster.destroy()


def _admin(server: str) -> psycopg.Connection:
    return psycopg.connect(_psycopg_dsn(server), autocommit=True)


@pytest.fixture(scope="session")
def template_url(server_url: str) -> str:
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    url = make_url(server_url).set(database=TEMPLATE).render_as_string(hide_password=False)
    upgrade(url)
    return url


def new_database(server_url: str, template: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(server_url: str, pool_size: int = 1):
    """A migrated, empty database of its own, with an engine; dropped afterwards. For module
    fixtures and for tests that need a second database beside ``db_url``."""
    from layers.storage.db import make_engine

    url = new_database(server_url, TEMPLATE)
    engine = make_engine(url, pool_size=pool_size)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database(server_url, url)


@pytest.fixture
def db_url(server_url: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated, empty gridmap database for one test."""
    url = new_database(server_url, TEMPLATE)
    yield url
    from layers.storage.db import engine_for

    engine_for.cache_clear()
    drop_database(server_url, url)


@pytest.fixture
def engine(db_url: str):
    from layers.storage.db import make_engine

    eng = make_engine(db_url, pool_size=2)
    yield eng
    eng.dispose()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, db_url: str):
    """Point gridmap's settings (CLI, app) at the test database."""
    from gridmap.settings import get_settings

    monkeypatch.setenv("GRIDMAP_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@contextmanager
def live_server(database_url: str, **env: str) -> Iterator[str]:
    """A real ``uvicorn`` serving gridmap on a free loopback port, for clients that need HTTP
    (Chromium, GDAL); yields its base URL."""
    import subprocess
    import sys
    import time
    import urllib.request

    from layers.storage.cluster import pick_free_port

    port = pick_free_port(18900)
    environment = {**os.environ, "GRIDMAP_DATABASE_URL": database_url,
                   "GRIDMAP_ESCALATION_INTERVAL_S": "0", **env}
    # a stop waits at most 5 s for open live streams (the desk's Server-Sent Events)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                               "--log-level", "warning", "--timeout-graceful-shutdown", "5"],
                              env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "gridmap did not start"
                time.sleep(0.3)
        # the first locator is built beside the serving process (it answers 503 meanwhile):
        # clients start once it is ready, or once it says there are no boundaries to index
        assert eventually(lambda: _ready_or_empty(base), 600), "gridmap never became ready"
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ready_or_empty(base: str) -> bool:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/readyz", timeout=5):
            return True
    except urllib.error.HTTPError as not_ready:
        body = json.loads(not_ready.read() or b"{}")
        return body.get("active_generation") is None and body.get("checks", {}).get("database")
    except OSError:
        return False


def eventually(predicate, seconds: float = 5.0) -> bool:
    """True as soon as ``predicate()`` holds, False if it still does not after ``seconds``: for
    what another process's change reaches us by NOTIFY (milliseconds, never synchronous)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


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
def city_with_register(server_url: str, clock, *, scale: float = 0.05):
    """The small demo city and its register in a database of their own, and a client of an app
    on it whose clock is ``clock``; yields (client, engine, city)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from layers.demo.city import generate
    from layers.demo.register import load as load_register
    from layers.interchange.importer import write_validated

    boundary = ROOT / "data" / "boundaries" / "370811.geojson"
    city = generate(boundary, scale=scale)
    with scratch_database(server_url, pool_size=3) as (url, engine):
        assert write_validated(engine, city).ok
        app = create_app(url=url)
        app.state.clock = clock
        load_register(engine, app.state.cipher, scale=scale, today=clock().date())
        with TestClient(app) as client:
            yield client, engine, city
