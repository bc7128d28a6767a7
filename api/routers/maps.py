"""Map pages (Folium, offline), vector tiles (MVT from PostGIS) and the grid outline the resident
page draws. Pages are cached per data version: the locator registry's rebuild counter moves on
every publish and import (NOTIFY)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import ReadSessionDep, Responses, SessionDep, allowed
from api.pages import gate, page, with_header
from api.security import SignInFormDep, give_login_cookie, login_form_token, sign_in, sign_out
from layers.access.policy import allows
from layers.maps import queries
from layers.maps.tiles import tile, tilejson
from map_ui import chrome, pages

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
    cache = app.state.page_cache
    if key not in cache:
        if len(cache) > MAX_CACHED_PAGES:
            cache.clear()
        cache[key] = build()
    return cache[key]


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
        with app.state.read_sessionmaker() as session:
            for colour in ("street", "workload"):
                _cached(app, ("coverage", colour, False, ms.url, ms.datum, *version),
                        lambda colour=colour: pages.coverage(session, ms, colour_by=colour))
            _cached(app, ("locate", ms.url, ms.datum, *version), lambda: pages.locate(session, ms))
    except Exception:
        logging.getLogger(__name__).warning("could not pre-build the map pages", exc_info=True)


# Pages answer HTML; their errors are JSON like everywhere (the one error shape).
HTML: Responses = {200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "a page"}}
REDIRECT: Responses = {303: {"description": "on to the page"}, **HTML}


@router.get("/", summary="The home page: what the caller's role may do here", responses=HTML,
            response_class=Response)
def index(who: allowed("map.public", cookie=True)) -> HTMLResponse:
    return page(chrome.home(who))


@router.get("/map/login", summary="Sign in to the staff maps", responses=HTML,
            response_class=Response)
def login_page(request: Request, _: allowed("map.public"),
               next: Annotated[str, Query(max_length=200)] = "/",
               failed: bool = False) -> HTMLResponse:
    token = login_form_token(request)
    return give_login_cookie(HTMLResponse(pages.login(_safe_next(next), failed=failed,
                                                      form_token=token)), request, token)


def _safe_next(target: str) -> str:
    """Only our own staff pages: never an open redirect to another site."""
    ours = target.startswith(("/map/", "/desk")) and "//" not in target and "\\" not in target
    return target if ours else "/"


@router.post("/map/login", summary="Sign in to the staff maps: a staff token checked, a "
             "server-side session started (its id in an HttpOnly cookie); only from this site's "
             "own form", responses=REDIRECT, response_class=Response)
async def login(request: Request, _: allowed("map.public"), form: SignInFormDep) -> Response:
    target = _safe_next(form.next)
    # any staff credential signs in ("me"): each page then says whether this role may enter it
    return await sign_in(request, form, may="me", target=target,
                         failed=f"/map/login?failed=1&next={quote(target)}")


@router.post("/map/logout", summary="Sign out: the session ends on the server, the cookie goes",
             responses=REDIRECT, response_class=Response)
async def logout(request: Request, _: allowed("map.public")) -> Response:
    return await sign_out(request, target="/map/coverage")


@router.get("/map/coverage", summary="Coverage map (staff see camera sectors and back-alley "
            "coverage too)", responses=HTML, response_class=Response)
def coverage_page(request: Request, session: ReadSessionDep,
                  who: allowed("map.public", cookie=True),
                  colour: Literal["street", "workload"] = "street") -> Response:
    ms = _settings(request)
    staff = allows(who.role, "map.staff")
    now = request.app.state.clock()
    # staff see the last 7 days' patrol coverage: their page is rebuilt every hour at least
    hour = now.strftime("%Y%m%d%H") if staff else None
    key = ("coverage", colour, staff, hour, ms.url, ms.datum,
           *_version(request))
    html = _cached(request.app, key, lambda: pages.coverage(
        session, ms, colour_by=colour, staff=staff, patrols_since=now - dt.timedelta(days=7),
        patrol_reach_m=request.app.state.settings.patrol_reach_m))
    return page(with_header(html, who, "/map/coverage"), private=who.signed_in)




@router.get("/map/cases", summary="Cases map (staff)", responses=REDIRECT, response_class=Response)
def cases_page(
    request: Request, session: SessionDep, who: allowed("map.public", cookie=True),
    period: Annotated[int, Query(ge=1, le=3650)] = 30,
    category: Annotated[str | None, Query(max_length=20)] = None,
    street: Annotated[str | None, Query(max_length=15)] = None,
) -> Response:
    refused = gate(request, who, "map.staff", "案件地图")
    if refused is not None:
        return refused
    return page(with_header(pages.cases(
        session, _settings(request), period_days=period, category=category or None,
        street=street or None, now=request.app.state.clock(), scope=who.scope_code),
        who, "/map/cases"))


@router.get("/map/locate", summary="Resident locator page", responses=HTML,
            response_class=Response)
def locate_page(request: Request, session: ReadSessionDep,
                who: allowed("map.public", cookie=True)) -> HTMLResponse:
    ms = _settings(request)
    html = _cached(request.app, ("locate", ms.url, ms.datum, *_version(request)),
                   lambda: pages.locate(session, ms))
    return page(with_header(html, who, "/map/locate"), private=who.signed_in)


@router.get("/map/grid/{code}.geojson", summary="One grid's outline (for the locator page)")
def grid_outline(code: Annotated[str, Path(pattern=r"^\d{6,15}$")], session: ReadSessionDep,
                 _: allowed("map.public"),
                 datum: Literal["wgs84", "gcj02"] = "wgs84") -> JSONResponse:
    feature = queries.grid_geojson(session, code)
    shifted = pages.MapSettings(datum=datum).shift({"type": "FeatureCollection",
                                                    "features": [feature]})
    return JSONResponse(shifted["features"][0], media_type="application/geo+json")


@router.get("/tiles/{layer}/{z}/{x}/{y}.pbf",
            summary="Vector tiles (MVT) of the layers declared in layers/registry.py; layers "
                    "that are not public need a credential", response_class=Response,
            responses={200: {"content": {"application/vnd.mapbox-vector-tile": {
                "schema": {"type": "string", "format": "binary"}}}, "description": "a tile"}})
def vector_tile(request: Request, layer: Annotated[str, Path(max_length=40)],
                z: Annotated[int, Path(ge=0, le=22)],
                x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)], session: ReadSessionDep,
                who: allowed("tiles.read", cookie=True),
                datum: Literal["wgs84", "gcj02"] = "wgs84") -> Response:
    data, public = tile(session, layer, z, x, y, datum, by=who)
    # the tile's own fingerprint: a client that has it already gets 304 and no body
    etag = '"' + hashlib.sha1(data, usedforsecurity=False).hexdigest() + '"'
    headers = {"Cache-Control": "public, max-age=60" if public else "private, max-age=60",
               "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/vnd.mapbox-vector-tile", headers=headers)


@router.get("/tiles/{layer}.json", summary="TileJSON 3.0 of a tile layer (tiles URL, zooms, "
                                           "extent, fields)")
def tile_json(request: Request, layer: Annotated[str, Path(max_length=40)],
              session: ReadSessionDep,
              who: allowed("tiles.read", cookie=True)) -> dict:
    return tilejson(session, layer, str(request.base_url), by=who)
