"""Test fixtures: a throwaway PostgreSQL + PostGIS cluster for the whole session.

The session starts its own cluster (with the same code as ``gridmap db up``) in a temporary
directory, migrates one template database, and gives each test that asks for ``db_url`` a fresh
copy of it (CREATE DATABASE … TEMPLATE, a few tenths of a second). The small demo city is written
once per session into a second template (``city_db_url`` copies it). Under pytest-xdist each
worker has its own cluster. Set GRIDMAP_TEST_DATABASE_URL to a superuser URL of an existing
PostGIS server to use that instead. Helpers shared by the test modules live in tests/support.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import make_url

from layers.storage.cluster import ClusterError, LocalCluster
from layers.storage.migrate import upgrade
from tests.support import (
    CITY_TEMPLATE,
    TEMPLATE,
    TEST_REGISTER_KEY,
    _community_with_grids,
    admin,
    drain_drops,
    drop_later,
    new_database,
    planning_app,
    small_city,
)

# No wall-clock deadlines: the first call of a compiled kernel (numba) takes seconds on a busy
# machine and Hypothesis would report it as a flaky failure. Timings belong in bench/.
hypothesis_settings.register_profile("gridmap", deadline=None)
hypothesis_settings.load_profile("gridmap")
# Apps made in tests do not pre-build map pages in the background (the browser tests' server does).
os.environ.setdefault("GRIDMAP_WARM_MAPS", "0")
os.environ.setdefault("GRIDMAP_ACCESS_LOG", "0")  # a JSON line per request would drown the output
# A request waits for the process's first locator build (GRIDMAP_LOCATOR_WAIT_S, 30 s in
# production): on a fresh clone of a busy machine compiling the kernels alone can take longer,
# and a module fixture's first request would then see 503. Tests wait as long as it takes.
os.environ.setdefault("GRIDMAP_LOCATOR_WAIT_S", "600")
os.environ.setdefault("GRIDMAP_REGISTER_KEY", TEST_REGISTER_KEY)
# A throwaway cluster need not survive a power cut: without fsync a DROP DATABASE (a checkpoint)
# takes a tenth of a second instead of seconds, and the suite drops one per test.
THROWAWAY = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


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
    try:
        for attempt in range(3):
            # two workers starting at once may both choose the same free port; the one that
            # loses starts again on another (``up`` moves to a free port when its own is taken)
            try:
                cluster.up()
                break
            except ClusterError:
                if attempt == 2:
                    raise
        url = cluster.url("postgres")
        with admin(url) as conn:
            for name, value in THROWAWAY.items():
                conn.execute(f"ALTER SYSTEM SET {name} = {value}")
            conn.execute("SELECT pg_reload_conf()")
        yield url
    finally:
        try:
            drain_drops()
        finally:
            cluster.destroy()


@pytest.fixture(scope="session")
def template_url(server_url: str) -> str:
    with admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    url = make_url(server_url).set(database=TEMPLATE).render_as_string(hide_password=False)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def city_template(server_url: str, template_url: str) -> str:
    """A template database holding the small demo city (``small_city()``, scale 0.05) as
    ``write_validated`` writes it; its name. Written once per session, copied per test."""
    from layers.interchange.importer import write_validated
    from layers.storage.db import make_engine

    with admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{CITY_TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{CITY_TEMPLATE}" TEMPLATE "{TEMPLATE}"')
    url = make_url(server_url).set(database=CITY_TEMPLATE).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        assert write_validated(engine, small_city()).ok
    finally:
        engine.dispose()  # a template is copied only while nobody is connected to it
    return CITY_TEMPLATE


def _copy(server_url: str, template: str) -> Iterator[str]:
    url = new_database(server_url, template)
    yield url
    from layers.storage.db import engine_for

    engine_for.cache_clear()
    drop_later(server_url, url)


@pytest.fixture
def db_url(server_url: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated, empty gridmap database for one test."""
    yield from _copy(server_url, TEMPLATE)


@pytest.fixture
def city_db_url(server_url: str, city_template: str) -> Iterator[str]:
    """A fresh database of one test's own holding the small demo city (``small_city()``)."""
    yield from _copy(server_url, city_template)


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


@pytest.fixture(scope="module")
def city():
    """The small demo city (scale 0.05), a copy of the module's own; modules that need another
    city define their own ``city``."""
    return small_city()


# -- planning (tests/test_plan*.py) -----------------------------------------------------------------
@pytest.fixture
def env(db_url, engine, city, monkeypatch):
    """A plan over a community with two adjacent grids, made by a planner of its street, and a
    planner of another street: (client, headers, outsider's headers, plan, community, pair)."""
    from layers.access import users
    from layers.storage.db import session_scope

    community, pair = _community_with_grids(city)
    with planning_app(db_url, engine, city, monkeypatch, planner_scope=community[:9],
                      planner_name="plan") as (client, h):
        with session_scope(engine) as session:
            elsewhere = next(c for c in city.layers["areas"].query("level == 'street'").code
                             if c != community[:9])
            outsider = users.add(session, "plan2", "planner", elsewhere)[1]
        plan = client.post("/v1/plans", headers=h, json={"name": "兴东调整", "area": community})
        assert plan.status_code == 201, plan.text
        yield client, h, {"Authorization": f"Bearer {outsider}"}, plan.json(), community, pair


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one per test module (a test opens its own context:
    no cookies, storage or service worker carried over)."""
    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()
