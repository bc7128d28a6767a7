"""The API documentation pages (Swagger UI at /docs, ReDoc at /redoc), served with the assets
gridmap vendors itself: nothing loads from a CDN, so the docs work offline like the maps."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from api.deps import allowed
from map_ui import chrome
from map_ui.assets import STATIC_URL

router = APIRouter(include_in_schema=False)
VENDOR = f"{STATIC_URL}/vendor"
# The pages may load only from here: ReDoc's footer would otherwise fetch its logo from a CDN.
OFFLINE = {"Content-Security-Policy": "default-src 'self' 'unsafe-inline' 'unsafe-eval' blob: data:"}


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(OFFLINE)
    return page


@router.get("/docs")
def swagger_ui(request: Request, who: allowed("docs.read", cookie=True)) -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url=request.app.openapi_url, title="gridmap · API",
                               swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
                               swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
                               swagger_favicon_url="data:,")
    # the header every page carries (map_ui/chrome.py), above Swagger UI
    html = bytes(page.body).decode().replace(
        "<body>", f"<body><link rel='stylesheet' href='{STATIC_URL}/gridmap.css'>"
                  f"{chrome.header(who, '/docs')}", 1)
    return _offline(HTMLResponse(html))


@router.get("/redoc")
def redoc(request: Request, _: allowed("docs.read")) -> HTMLResponse:
    return _offline(get_redoc_html(openapi_url=request.app.openapi_url, title="gridmap · API",
                          redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
                          redoc_favicon_url="data:,", with_google_fonts=False))
