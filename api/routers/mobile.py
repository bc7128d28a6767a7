"""The grid worker's phone page ``/m/`` and its service worker; the page itself is
map_ui/mobile.py and map_ui/static/mobile.js. It signs in like the staff maps (a server-side session,
its id in an HttpOnly cookie) and writes with the cookie plus the page's CSRF token."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import Responses, SessionDep, allowed
from api.security import (
    SignInFormDep,
    give_login_cookie,
    login_form_token,
    page_csrf,
    sign_in,
    sign_out,
)
from layers.access.policy import allows
from layers.cases import routing
from map_ui import mobile
from map_ui.assets import STATIC_DIR

router = APIRouter(prefix="/m", tags=["mobile"])
HTML: Responses = {200: {"content": {"text/html": {}}, "description": "the page"}}


@router.get("/", summary="The grid worker's phone page (works offline once opened)",
            response_class=Response, responses=HTML)
def page(request: Request, session: SessionDep, who: allowed("map.public", cookie=True),
         failed: bool = False) -> Response:
    csrf = page_csrf(request)
    if csrf is not None and allows(who.role, "case.create"):
        categories = routing.category_names(session)
        return HTMLResponse(mobile.page(csrf=csrf, categories=categories),
                            headers={"Cache-Control": "private, no-cache"})
    token = login_form_token(request)
    return give_login_cookie(HTMLResponse(mobile.page(csrf=None, form_token=token, failed=failed)),
                             request, token)


@router.get("/sw.js", summary="The phone page's service worker", response_class=Response,
            responses={200: {"content": {"application/javascript": {}}}})
def service_worker(_: allowed("map.public")) -> Response:
    return Response((STATIC_DIR / "sw-mobile.js").read_bytes(), media_type="application/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/m/"})


@router.get("/manifest.webmanifest", summary="The phone page's web app manifest (installable, "
                                             "no app store)", response_class=Response,
            responses={200: {"content": {"application/manifest+json": {}}}})
def manifest(_: allowed("map.public")) -> Response:
    return Response(json.dumps(mobile.MANIFEST, ensure_ascii=False).encode(),
                    media_type="application/manifest+json",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.post("/login", summary="Sign a worker in on the phone page: a worker's token checked, a "
             "server-side session started; only from this site's own form",
             response_class=Response, responses={303: {"description": "back to /m/"}})
async def login(request: Request, _: allowed("map.public"), form: SignInFormDep) -> Response:
    return await sign_in(request, form, may="case.create", target="/m/", failed="/m/?failed=1")


@router.post("/logout", summary="Sign the phone out: the session ends on the server",
             response_class=Response, responses={303: {"description": "back to /m/"}})
async def logout(request: Request, _: allowed("map.public")) -> Response:
    return await sign_out(request, target="/m/")
