"""Map pages (Folium, offline), vector tiles (MVT from PostGIS) and the grid outline the resident
page draws. Pages are cached per data version: the locator registry's rebuild counter moves on
every publish and import (NOTIFY)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import PublicAccess, SessionDep
from layers.maps import queries
from layers.maps.tiles import tile
from map_ui import pages

router = APIRouter(tags=["maps"])
MAX_CACHED_PAGES = 32


def _settings(request: Request) -> pages.MapSettings:
    s = request.app.state.settings
    return pages.MapSettings(s.basemap_url, s.basemap_datum, s.basemap_attribution)


def _version(request: Request) -> tuple:
    registry = request.app.state.locators
    active = registry.active()
    return active.generation["id"], registry.rebuilds


def _cached(app, key: tuple, build) -> str:
    """A page per data version, kept by the app (two apps on two databases never share one)."""
    cache = _page_cache(app)
    if key not in cache:
        if len(cache) > MAX_CACHED_PAGES:
            cache.clear()
        cache[key] = build()
    return cache[key]


def _page_cache(app) -> dict[tuple, str]:
    if not hasattr(app.state, "page_cache"):
        app.state.page_cache = {}
    return app.state.page_cache


def warm(app) -> None:
    """Build the coverage and locator pages for the current data, so that the first visitor
    after a start, a publish or an import does not wait for them (run in a thread)."""
    s = app.state.settings
    ms = pages.MapSettings(s.basemap_url, s.basemap_datum, s.basemap_attribution)
    registry = app.state.locators
    try:
        version = (registry.active().generation["id"], registry.rebuilds)
    except Exception:  # noqa: BLE001 - no data yet: nothing to warm
        return
    try:
        with app.state.sessionmaker() as session:
            for colour in ("street", "workload"):
                _cached(app, ("coverage", colour, ms.url, ms.datum, *version),
                        lambda colour=colour: pages.coverage(session, ms, colour_by=colour))
            _cached(app, ("locate", ms.url, ms.datum, *version), lambda: pages.locate(session, ms))
    except Exception:
        logging.getLogger(__name__).warning("could not pre-build the map pages", exc_info=True)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(_: PublicAccess) -> str:
    return ("<!doctype html><meta charset='utf-8'><title>gridmap</title>"
            "<link rel='stylesheet' href='/static/gridmap.css'><div class='gm-index'>"
            "<h1>gridmap · 网格化服务管理空间底座</h1><ul>"
            "<li><a href='/map/locate'>找我的网格员（居民）</a></li>"
            "<li><a href='/map/coverage'>网格覆盖图</a>"
            "（<a href='/map/coverage?colour=workload'>按工作量</a>）</li>"
            "<li><a href='/map/cases'>案件分布图</a></li>"
            "<li><a href='/docs'>API 文档</a></li></ul></div>")


@router.get("/map/coverage", response_class=HTMLResponse, summary="Coverage map")
async def coverage_page(request: Request, session: SessionDep, _: PublicAccess,
                        colour: Literal["street", "workload"] = "street") -> str:
    ms = _settings(request)
    key = ("coverage", colour, ms.url, ms.datum, *await run_in_threadpool(_version, request))
    return await run_in_threadpool(_cached, request.app, key,
                                   lambda: pages.coverage(session, ms, colour_by=colour))


@router.get("/map/cases", response_class=HTMLResponse, summary="Cases map")
def cases_page(
    request: Request, session: SessionDep, _: PublicAccess,
    period: Annotated[int, Query(ge=1, le=3650)] = 30,
    category: str | None = None, street: str | None = None,
) -> str:
    today = request.app.state.clock().date()
    return pages.cases(session, _settings(request), period_days=period,
                       category=category or None, street=street or None, today=today)


@router.get("/map/locate", response_class=HTMLResponse, summary="Resident locator page")
def locate_page(request: Request, session: SessionDep, _: PublicAccess) -> str:
    ms = _settings(request)
    return _cached(request.app, ("locate", ms.url, ms.datum, *_version(request)),
                   lambda: pages.locate(session, ms))


@router.get("/map/grid/{code}.geojson", summary="One grid's outline (for the locator page)")
def grid_outline(code: str, session: SessionDep, _: PublicAccess,
                 datum: Literal["wgs84", "gcj02"] = "wgs84") -> JSONResponse:
    feature = queries.grid_geojson(session, code)
    shifted = pages.MapSettings(datum=datum).shift({"type": "FeatureCollection",
                                                    "features": [feature]})
    return JSONResponse(shifted["features"][0], media_type="application/geo+json")


@router.get("/tiles/{layer}/{z}/{x}/{y}.pbf",
            summary="Vector tiles (MVT) of the layers declared in layers/registry.py")
def vector_tile(layer: str, z: int, x: int, y: int, session: SessionDep, _: PublicAccess,
                datum: Literal["wgs84", "gcj02"] = "wgs84") -> Response:
    return Response(tile(session, layer, z, x, y, datum), media_type="application/vnd.mapbox-vector-tile",
                    headers={"Cache-Control": "public, max-age=60"})

