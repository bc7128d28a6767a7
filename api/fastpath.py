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

from gis.points import to_point
from layers.access.policy import ANONYMOUS, require
from layers.errors import DomainError

PATH = "/v1/locate"
GZIP_MINIMUM_SIZE = 1024  # the app's GZipMiddleware compresses answers from this size
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
                headers = [(b"content-length", b""), (b"content-type", b"application/json")]
                if len(body) >= self.gzip_minimum_size:
                    headers.append((b"vary", b"Accept-Encoding"))
                    if gzip:
                        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                        body = compressor.compress(body) + compressor.flush()
                        headers.append((b"content-encoding", b"gzip"))
                headers[0] = (b"content-length", str(len(body)).encode())
                scope["route"] = self.fastapi_app.state.locate_route  # the metrics' label
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope) -> tuple[bytes, bool] | None:
        """(the answer's bytes, whether the client takes gzip), or None when the routed
        endpoint must answer."""
        if scope.get("raw_path", PATH.encode()) != PATH.encode():
            return None  # percent-encoded paths go the long way (and past the guard)
        gzip = False
        for name, value in scope["headers"]:
            if name in (b"authorization", b"transfer-encoding") or (
                    name == b"content-length" and value != b"0"):
                return None
            if name == b"accept-encoding" and b"gzip" in value:
                gzip = True
        params = {}
        for pair in scope["query_string"].decode("latin-1").split("&"):
            if not pair:
                continue
            name, _, value = pair.partition("=")
            if name not in _PARAMS or name in params:
                return None
            params[name] = unquote(value)
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
