"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import sessionmaker

from api import errors
from api.cors import Cors
from api.fastpath import GZIP_MINIMUM_SIZE, ITEMS_PATH, ItemsFastPath, LocateFastPath
from api.fastpath import PATH as LOCATE_PATH
from api.guards import RequestGuard
from api.observability import Metrics, Observe, json_access_log
from api.routers import (
    addresses,
    areas,
    cases,
    desk,
    docs,
    features,
    geocode,
    health,
    locate,
    maps,
    mobile,
    open311,
    patrols,
    plan_pages,
    plans,
    register,
    resident,
    stats,
    tasks,
)
from api.security import route_access
from gridmap.settings import Settings, get_settings
from layers import clock, limits
from layers.access.credentials import NOTIFY_CHANNEL as CREDENTIALS_CHANNEL
from layers.access.credentials import CredentialCache
from layers.access.rate_limit import FailureThrottle, SharedRateLimiter
from layers.cases import feed, working_calendar
from layers.cases.workflow import escalate_overdue
from layers.locating.locators import CHANNELS as LOCATOR_CHANNELS
from layers.locating.locators import LocatorRegistry
from layers.maps.read_ahead import ReadAhead
from layers.planning import publishing as planning
from layers.register import crypto
from layers.storage.async_pool import AsyncReadPool
from layers.storage.db import database_url, make_engine
from layers.storage.listener import ChangeListener
from map_ui.assets import STATIC_DIR, STATIC_URL

ROUTERS = (health.router, areas.router, locate.router, geocode.router, cases.router,
           open311.discovery_router, open311.router, open311.xml_router, stats.router,
           maps.router, plan_pages.router, features.router, plans.router, register.router,
           patrols.router, tasks.router, mobile.router, desk.router, resident.router, docs.router,
           addresses.router)


def create_app(settings: Settings | None = None, *, url: str | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # every statement of the API's own work is bounded; a request's session bounds it tighter
        # by the request's class (api/deps.py, layers/limits.py)
        bounded = limits.connect_options(app.state.limits.statement_timeout_ms("background"))
        engine = make_engine(url or database_url(settings), connect_args=bounded)
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        # reads that may lag a moment behind the primary go to the replica, when there is one
        # (GRIDMAP_DATABASE_READ_URL; docs/scaling.md)
        read_engine = (make_engine(read_url, connect_args=bounded)
                       if (read_url := read_url_of(settings, url)) else engine)
        app.state.read_engine = read_engine
        app.state.read_sessionmaker = sessionmaker(read_engine, expire_on_commit=False)
        # the OGC paging fast path's connections, on the same database (api/fastpath.py)
        app.state.async_reads = AsyncReadPool(
            read_engine.url.render_as_string(hide_password=False),
            statement_timeout_ms=app.state.limits.statement_timeout_ms("read"))
        try:
            crypto.check_key(engine, app.state.cipher)  # the key must read what is stored
        except OperationalError:  # the database is down: /readyz checks the key once it is up
            logging.getLogger(__name__).warning("database unreachable at start; the register "
                                                "key is checked by /readyz when it answers")
        try:  # the working calendar knows the statutory holidays from the first start on
            with app.state.sessionmaker.begin() as session:
                seeded = working_calendar.seed_statutory(session)
            if seeded:
                logging.getLogger(__name__).info("working calendar: statutory holidays of %s "
                                                 "added", ", ".join(map(str, seeded)))
        except (OperationalError, ProgrammingError):  # no database yet: /readyz says so
            pass
        # the process's one LISTEN connection; each concern subscribes (layers/storage/listener.py)
        app.state.listener = ChangeListener(engine)
        app.state.locators = LocatorRegistry(read_engine, primary=engine,
                                             first_build_wait_s=settings.locator_wait_s,
                                             listener=app.state.listener)
        if not hasattr(app.state, "resident_limiter"):
            app.state.resident_limiter = SharedRateLimiter(engine,
                                                           settings.resident_requests_per_minute)
        if not hasattr(app.state, "auth_throttle"):
            app.state.auth_throttle = FailureThrottle(engine, settings.auth_failures_per_minute)
        if not hasattr(app.state, "contact_limiter"):  # revealing a worker's phone: fewer
            app.state.contact_limiter = SharedRateLimiter(
                engine, settings.resident_contacts_per_minute, name="contact")
        # credentials in memory are forgotten on every change to the users table (NOTIFY)
        # (the pages' sessions are cached with them: a sign-out elsewhere is heard as well)
        app.state.listener.watch(CREDENTIALS_CHANNEL, app.state.credentials.clear)
        # the desk's live feed wakes on every new case event, whoever wrote it (NOTIFY)
        app.state.listener.watch(feed.CHANNEL, app.state.case_feed.notify)
        # OGC pages read ahead are dropped on every import and publish (NOTIFY), and again once
        # the rebuild that follows has seen the change (a read replica may replay it later than
        # the NOTIFY arrives: a block read from it meanwhile would be old and of the new epoch)
        for channel in LOCATOR_CHANNELS:
            app.state.listener.watch(channel, app.state.read_ahead.clear)
        app.state.locators.on_refresh.append(app.state.read_ahead.clear)
        # what a build leaves in memory is set aside from the cyclic collector (settle_heap)
        app.state.locators.on_refresh.insert(0, settle_heap)
        # listen, and build the first locator in the rebuild thread: /readyz answers meanwhile
        app.state.locators.start()
        # serve only once changes are heard (or the database is found down: /readyz says so)
        app.state.listener.wait(timeout=5.0)
        escalator = Escalator(app, settings.escalation_interval_s)
        escalator.start()
        if settings.warm_maps:
            app.state.locators.on_refresh.append(lambda: maps.warm(app))
            threading.Thread(target=maps.warm, args=(app,), name="gridmap-warm-maps",
                             daemon=True).start()
        yield
        escalator.stop()
        app.state.listener.stop()
        await app.state.async_reads.close()
        engine.dispose()
        if read_engine is not engine:
            read_engine.dispose()

    app = FastAPI(
        title="gridmap",
        summary="网格化服务管理空间底座 — the spatial backbone of grid-based city governance",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api/routers/docs.py with local assets (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.limits = limits.Limits.of(settings)  # resource bounds (layers/limits.py)
    # personal data is encrypted at rest: no key, no server (MissingKey says what to do)
    app.state.cipher = crypto.personal_data(settings)
    app.state.clock = clock.now  # Beijing time (layers/clock.py); tests replace it
    app.state.page_cache = {}  # map pages per data version (api/routers/maps.py)
    app.state.credentials = CredentialCache()  # tokens seen lately (layers/access/credentials.py)
    app.state.case_feed = feed.ChangeSignal()  # wakes the desk's live streams (layers/cases/feed.py)
    app.state.read_ahead = ReadAhead()  # OGC pages kept for clients walking a layer (api/fastpath.py)
    errors.install(app)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    # JSON, GeoJSON, CSV and tiles compressed for clients that accept it
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE)
    # the plain anonymous GET /v1/locate, answered without routing (api/fastpath.py)
    app.add_middleware(LocateFastPath, fastapi_app=app, gzip_minimum_size=GZIP_MINIMUM_SIZE)
    # OGC items paged by key, as GDAL pages (api/fastpath.py)
    app.add_middleware(ItemsFastPath, fastapi_app=app, gzip_minimum_size=GZIP_MINIMUM_SIZE)
    # cross-origin pages: public tiles and OGC for any origin, the rest for listed ones
    app.add_middleware(Cors, origins=settings.cors_origins)
    # outermost: the request id, the access log line and the metrics see every request
    app.state.metrics = Metrics()
    app.add_middleware(Observe, metrics=app.state.metrics)
    if settings.access_log:
        json_access_log()
    for router in ROUTERS:
        app.include_router(router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    check_every_route_declares_access(app)
    # the routes whose hot requests api/fastpath.py answers, for the metrics' labels
    app.state.locate_route, app.state.items_route = (
        next(r for r in api_routes(app.router.routes) if r.path == path and "GET" in r.methods)
        for path in (LOCATE_PATH, ITEMS_PATH))
    errors.document(api_routes(app.router.routes))
    return app


def read_url_of(settings: Settings, url: str | None) -> str | None:
    """The replica's URL — unless the app was given its database explicitly (tests), which
    then serves the reads too."""
    return settings.database_read_url if url is None else None


def settle_heap() -> None:
    """Collect once, then freeze what is alive (``gc.freeze``): run in the rebuild thread after
    every locator build. A process serving the full demo holds about half a million objects
    the cyclic collector tracks (the address gazetteer, the locator's areas and workers, the
    imported modules), and Python's occasional full collection walks every one of them while
    holding the GIL — 0.1-0.3 s in which no request is answered, the p99 stall of ``GET
    /v1/locate`` under load. Frozen objects are never walked again; the requests' own garbage
    is still collected. The previous build's frozen objects are unfrozen first, so whatever of
    them is left in cycles is collected here, once per build, not leaked."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Escalator:
    """Every ``interval`` seconds, on the app's clock: escalate overdue cases (镇呼区应) and
    activate a generation scheduled for today (NOTIFY then switches every process)."""

    def __init__(self, app: FastAPI, interval: float):
        self.app, self.interval = app, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gridmap-escalator", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        """Escalate overdue cases, and switch to a scheduled generation whose day has come."""
        now = self.app.state.clock()
        with self.app.state.sessionmaker() as session:
            changed = escalate_overdue(session, now)
            planning.activate_due(session, clock.day_of(now))
            session.commit()
        self.app.state.metrics.escalation_runs += 1
        return len(changed)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                logging.getLogger(__name__).exception("escalation failed")


def api_routes(routes) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI ≥ 0.16x nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def check_every_route_declares_access(app: FastAPI) -> None:
    """Refuse to build an app in which some route bypasses the security seam."""
    bare = [r.path for r in api_routes(app.router.routes) if route_access(r) is None]
    if bare:
        raise RuntimeError(f"routes without an access() dependency: {bare}")
