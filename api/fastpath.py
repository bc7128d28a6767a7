"""The hot path of ``GET /v1/locate`` without the framework's per-request machinery.

A resident's app or a dispatcher's screen asks ``GET /v1/locate?lon=…&lat=…`` thousands of times
a second; the grid lookup costs microseconds, and FastAPI's routing (a linear match over every
route), dependency resolution and parameter validation cost ten times that. This pure ASGI layer
answers the plain form of that request itself and hands everything else to the routed endpoint:

- only ``GET /v1/locate`` with nothing but ``lon``, ``lat`` and ``crs`` (each at most once), every
  number written plainly (digits, one point, a sign) — what FastAPI would read as the same float;
- only anonymous callers (no ``Authorization`` header), and only while the access policy lets an
  anonymous caller take ``locate`` — asked per request through the same ``require`` as the route;
- only when the active locator is built and the point lies in a grid.

Anything else — a credential, ``at=``, ``engine=``, ``x``/``y``, a malformed number, a point
outside every grid, a locator still building — falls through to ``api/routers/locate.py``, so
errors, the OpenAPI document and every other behaviour stay the routed endpoint's. The answer is
the same bytes (``Locator.answer_json``, which the route also sends); a test compares the two
paths, headers and compression included.

It sits inside the observer (request id, access log and metrics see it, under the route's
template) and in front of the request guard and GZip: what it answers cannot carry anything the
guard refuses (no body, a path and a query of plain characters only), and an answer of
``GZIP_MINIMUM_SIZE`` bytes or more is compressed here exactly as ``GZipMiddleware`` would
(zlib's gzip at level 9, ``Vary: Accept-Encoding``) — the two middlewares cost a third of the
answer's time.
"""

from __future__ import annotations

import re
import zlib
from urllib.parse import unquote

import psycopg
from starlette.requests import Request

from api.routers.features import MAX_LIMIT, items_body
from api.security import cached_principal
from gis.points import to_point
from layers.access.policy import ANONYMOUS, require
from layers.errors import DomainError
from layers.maps import features

PATH = "/v1/locate"
GZIP_MINIMUM_SIZE = 1024  # the app's GZipMiddleware compresses answers from this size
ITEMS_PATH = "/ogc/collections/{collection_id}/items"
_NUMBER = re.compile(r"-?\d{1,4}(?:\.\d{1,17})?")
_CRS = re.compile(r"[A-Za-z0-9:_.\-]{1,40}")
_PARAMS = {"lon", "lat", "crs"}


class LocateFastPath:
    def __init__(self, app, fastapi_app, gzip_minimum_size: int = GZIP_MINIMUM_SIZE):
        self.app, self.fastapi_app = app, fastapi_app
        self.gzip_minimum_size = gzip_minimum_size

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            answered = self._answer(scope)
            if answered is not None:
                body, gzip = answered
                scope["route"] = self.fastapi_app.state.locate_route  # the metrics' label
                await _send(send, [], b"application/json", body, gzip, self.gzip_minimum_size)
                return
        await self.app(scope, receive, send)

    def _answer(self, scope) -> tuple[bytes, bool] | None:
        """(the answer's bytes, whether the client takes gzip), or None when the routed
        endpoint must answer."""
        plain = _plain(scope, _PARAMS)
        if plain is None or plain[1] is not None:  # a credential: the route checks it
            return None
        params, _token, gzip = plain
        lon, lat, crs = params.get("lon"), params.get("lat"), params.get("crs", "wgs84")
        if (lon is None or lat is None or not _NUMBER.fullmatch(lon)
                or not _NUMBER.fullmatch(lat) or not _CRS.fullmatch(crs)):
            return None
        locators = self.fastapi_app.state.locators
        if not locators.ready:
            return None
        try:
            require(ANONYMOUS, "locate")
            point = to_point(float(lon), float(lat), None, None, crs)
            locator = locators.active()
            g, on_boundary = locator.locate(point)
        except (DomainError, ValueError):  # CoordinateError, UnknownCRSError are ValueErrors
            return None  # the routed endpoint says what is wrong, in the one error shape
        return locator.answer_json(point, g, on_boundary), gzip


_ITEMS = re.compile(r"/ogc/collections/([A-Za-z0-9_]{1,40})/items")
_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,100}")


class ItemsFastPath:
    """OGC API Features paging as GDAL and QGIS do it: ``GET /ogc/collections/{id}/items?
    limit=N&after=KEY`` — a client following ``next`` links thousands of times in a row
    (GDAL 3.6 asks 10 features a page). Answered here when the request is exactly that (no other
    parameter, not a first page: those count the total), the caller anonymous or holding a
    token this process already knows (``CredentialCache.peek``), the policy and the collection's
    read role allow it (``require``, ``features.collection`` — the route's own checks) and the
    scope is applied in the same SQL (``features.page_sql``). The page is read on an
    asynchronous autocommit connection (layers/storage/async_pool.py): no thread hop, one round
    trip — and reads ahead: a block of rows kept for the client's next pages (ReadAhead,
    layers/maps/read_ahead.py), so a walk through a layer costs a few dozen queries, not one a
    page. Anything else, or any failure, goes to the route; the answer is the route's bytes and
    headers (tested)."""

    def __init__(self, app, fastapi_app, gzip_minimum_size: int = GZIP_MINIMUM_SIZE):
        self.app, self.fastapi_app = app, fastapi_app
        self.gzip_minimum_size = gzip_minimum_size

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith(
                "/ogc/collections/"):
            answered = await self._answer(scope)
            if answered is not None:
                body, crs, gzip = answered
                scope["route"] = self.fastapi_app.state.items_route  # the metrics' label
                await _send(send, [(b"content-crs", f"<{crs}>".encode())],
                            b"application/geo+json", body, gzip, self.gzip_minimum_size)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope) -> tuple[bytes, str, bool] | None:
        match = _ITEMS.fullmatch(scope["path"])
        plain = _plain(scope, {"limit", "after"}) if match else None
        if plain is None or any(name == b"cookie" for name, _v in scope["headers"]):
            return None
        params, token, gzip = plain
        limit, after = params.get("limit", "100"), params.get("after")
        if after is None or not _KEY.fullmatch(after) or not limit.isdigit() or not (
                1 <= int(limit) <= 10**9):
            return None
        state = self.fastapi_app.state
        pool = getattr(state, "async_reads", None)
        if pool is None:
            return None
        request = Request(scope)
        if token is None:
            principal = ANONYMOUS
        else:
            known, principal = cached_principal(request, token)
            if not known or principal is None:
                return None  # the route reads the token (and refuses it in its own words)
        try:
            require(principal, "ogc.read")
            spec = features.collection(match.group(1), principal)
            size = min(int(limit), MAX_LIMIT)

            async def read(rows: int) -> list:
                async with pool.connection() as conn:
                    return await features.rows_after_async(conn, spec, principal, limit=rows,
                                                           after=after)

            found = await state.read_ahead.page((spec.name, principal.role, principal.scope_code),
                                                after, size, read)
        except (DomainError, OSError, psycopg.Error):
            return None
        base = str(request.base_url).rstrip("/") + "/ogc"
        body = items_body(base, spec, found, limit=size, after=after, offset=0, kept=[])
        return body.encode(), features.CRS84, gzip


def _plain(scope, names: set[str]) -> tuple[dict[str, str], str | None, bool] | None:
    """(query parameters, bearer token or None, whether the client takes gzip) of a request with
    no body, a path as it was written (percent-encoded paths go the long way, past the guard)
    and each parameter among ``names`` at most once; None for anything else."""
    if scope.get("raw_path", scope["path"].encode()) != scope["path"].encode():
        return None
    token, gzip = None, False
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return None
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                return None
            token = token.strip()
        elif name == b"accept-encoding" and b"gzip" in value:
            gzip = True
    params: dict[str, str] = {}
    for pair in scope["query_string"].decode("latin-1").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if name not in names or name in params:
            return None
        params[name] = unquote(value)
    return params, token, gzip


async def _send(send, first: list, media_type: bytes, body: bytes, gzip: bool,
                minimum: int) -> None:
    """A 200 with the headers a Starlette ``Response`` (``first`` then length and type) and the
    app's GZipMiddleware would have given it: ``Vary`` from ``minimum`` bytes on, gzip at level 9
    when the client takes it."""
    headers = [*first, (b"content-length", b""), (b"content-type", media_type)]
    if len(body) >= minimum:
        headers.append((b"vary", b"Accept-Encoding"))
        if gzip:
            compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            body = compressor.compress(body) + compressor.flush()
            headers.append((b"content-encoding", b"gzip"))
    headers[len(first)] = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
