"""Cross-origin requests (CORS), as configuration (a pure ASGI middleware).

Web GIS front-ends (MapLibre, OpenLayers, a department's portal) are almost always served from
another origin than the API, and a browser lets their script read an answer only when the answer
says so. Two rules:

- **Public read-only resources** — the vector tiles and their TileJSON (``/tiles/…``) and OGC API
  Features (``/ogc…``) — may be read by a page on *any* origin: ``GET``/``HEAD`` answer
  ``Access-Control-Allow-Origin: *``, never with credentials. The browser then sends no cookie
  and, since a foreign page may not send ``Authorization`` here (the preflight refuses it), what
  such a page reads is exactly what an anonymous caller may read: the public layers.
- **Listed origins** (``GRIDMAP_CORS_ORIGINS``, e.g. ``["https://gis.example.gov.cn"]``) may
  call every route with every method and credentials (``Authorization``, the sign-in cookie):
  their origin is echoed, with ``Access-Control-Allow-Credentials: true`` and ``Vary: Origin``.

Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered here, before
routing: 204 with what is allowed, or 403 in the one error shape saying which setting to change.
A request without an ``Origin`` header (curl, GDAL, QGIS, same-origin pages) passes untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from api.errors import error_body

PUBLIC_PREFIXES = ("/tiles/", "/ogc/")
READ_METHODS = ("GET", "HEAD")
# what a listed origin's page may send: credentials, bodies, conditional and idempotent requests
LISTED_HEADERS = ("authorization", "content-type", "if-none-match", "idempotency-key",
                  "x-csrf-token", "x-request-id")
# what any origin's page may send to a public resource: no credential
PUBLIC_HEADERS = ("if-none-match", "x-request-id")
EXPOSED = b"ETag, Content-Crs, X-Request-ID"
MAX_AGE = b"600"  # seconds a browser may keep a preflight's answer


def is_public(path: str) -> bool:
    return path == "/ogc" or path.startswith(PUBLIC_PREFIXES)


class Cors:
    def __init__(self, app, origins: Iterable[str] = ()):
        self.app = app
        self.origins = frozenset(o.rstrip("/") for o in origins)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope["headers"] if k in (
            b"origin", b"access-control-request-method", b"access-control-request-headers")}
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin:
            await self.app(scope, receive, send)
            return
        listed, public = origin in self.origins, is_public(scope["path"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(send, origin, listed, public, scope["path"],
                                  headers[b"access-control-request-method"].decode("latin-1"),
                                  headers.get(b"access-control-request-headers", b"").decode(
                                      "latin-1"))
            return
        if listed:
            extra = [(b"access-control-allow-origin", origin.encode("latin-1")),
                     (b"access-control-allow-credentials", b"true"),
                     (b"access-control-expose-headers", EXPOSED)]
        elif public and scope["method"] in READ_METHODS:
            extra = [(b"access-control-allow-origin", b"*"),
                     (b"access-control-expose-headers", EXPOSED)]
        else:  # not for this origin: no CORS headers, the browser keeps the answer from the page
            await self.app(scope, receive, send)
            return
        vary = bool(self.origins)  # the answer depends on the origin only when some are listed

        async def send_with_cors(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_vary([*message.get("headers", []), *extra], vary)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, send, origin: str, listed: bool, public: bool, path: str,
                         method: str, requested: str) -> None:
        wanted = {h.strip().lower() for h in requested.split(",") if h.strip()}
        if listed:
            allowed = [(b"access-control-allow-origin", origin.encode("latin-1")),
                       (b"access-control-allow-credentials", b"true"),
                       (b"access-control-allow-methods", b"GET, HEAD, POST, PUT, PATCH, DELETE"),
                       (b"access-control-allow-headers", ", ".join(LISTED_HEADERS).encode())]
        elif public and method in READ_METHODS and wanted <= set(PUBLIC_HEADERS):
            allowed = [(b"access-control-allow-origin", b"*"),
                       (b"access-control-allow-methods", b"GET, HEAD"),
                       (b"access-control-allow-headers", ", ".join(PUBLIC_HEADERS).encode())]
        else:
            what = (f"{method} {path[:100]}" + (f" with {', '.join(sorted(wanted))}"
                                                 if wanted else ""))
            body = json.dumps(error_body(
                "cors_origin_not_allowed",
                f"a page on {origin[:100]} may not send {what}: any origin may read the public "
                "tiles and OGC collections without a credential; for more, add the origin to "
                "GRIDMAP_CORS_ORIGINS", "该来源未获准跨域访问"), ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": 403, "headers": _with_vary([
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode())], True)})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": 204, "headers": _with_vary(
            [*allowed, (b"access-control-max-age", MAX_AGE)], bool(self.origins))})
        await send({"type": "http.response.body", "body": b""})


def _with_vary(headers: list, vary: bool) -> list:
    """``Vary: Origin`` added to (or merged into) the answer's ``Vary``."""
    if not vary:
        return headers
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            headers[i] = (name, value + b", Origin")
            return headers
    return [*headers, (b"vary", b"Origin")]
