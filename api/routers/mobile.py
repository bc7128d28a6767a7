"""The grid worker's phone page ``/m/`` and its service worker; the page itself is
map_ui/mobile.py and map_ui/static/mobile.js. It signs in like the staff maps (a token kept in an
HttpOnly cookie) and writes with the cookie plus the page's CSRF token."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep, allowed
from api.security import TOKEN_COOKIE, csrf_token, keep_signed_in, principal_for_token
from layers.access.policy import allows
from layers.cases import routing
from map_ui import mobile
from map_ui.assets import STATIC_DIR

router = APIRouter(prefix="/m", tags=["mobile"])
HTML = {200: {"content": {"text/html": {}}, "description": "the page"}}


@router.get("/", summary="The grid worker's phone page (works offline once opened)",
            response_class=Response, responses=HTML)
def page(request: Request, session: SessionDep, who: allowed("map.public", cookie=True),
         failed: bool = False) -> Response:
    token = request.cookies.get(TOKEN_COOKIE)
    signed_in = token is not None and allows(who.role, "case.create")
    categories = routing.category_names(session) if signed_in else None
    session.commit()  # the default routing tables, when this is the first thing to need them
    body = mobile.page(csrf=csrf_token(token) if signed_in else None, failed=failed,
                       categories=categories)
    return HTMLResponse(body, headers={"Cache-Control": "private, no-cache"})


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


@router.post("/login", summary="Sign a worker in on the phone page (a token kept in a cookie)",
             response_class=Response, responses={303: {"description": "back to /m/"}})
async def login(request: Request, _: allowed("map.public")) -> Response:
    form = await request.form()
    token = str(form.get("token") or "").strip()
    principal = await run_in_threadpool(principal_for_token, request, token) if token else None
    if principal is None or not allows(principal.role, "case.create"):
        return RedirectResponse("/m/?failed=1", status_code=303)
    response = RedirectResponse("/m/", status_code=303)
    keep_signed_in(response, request, token)
    return response


@router.post("/logout", summary="Sign the worker out on the phone page (forget the cookie)",
             response_class=Response, responses={303: {"description": "back to the sign-in"}})
def logout(_: allowed("map.public")) -> Response:
    response = RedirectResponse("/m/", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response
