"""The security seam: every route names, through one dependency, the action it performs.

    @router.get("/v1/areas/{code}/workers")
    def workers(code: str, who: Annotated[Principal, Depends(access("areas.workers", scope="code"))]):

``access(action, scope=param)`` finds out who calls (a bearer token; for the map pages and their
tiles also the ``gridmap_token`` cookie that ``/map/login`` sets, since a browser cannot send a
header with a page load) and asks the access policy (layers/access/policy.py) whether that role
may take ``action``. When ``scope`` names a path or query parameter holding an area code, the
principal's scope must contain it. Public actions need no token, but a token that is sent is
checked (an invalid one is a 401, never silently anonymous) and its principal is passed on, so
staff see more on public routes where the domain allows it.

The app factory refuses to start if any route lacks this dependency.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from layers.access import users
from layers.access.clients import client_address
from layers.access.policy import ANONYMOUS, Principal, Unauthorized, is_public, require, require_scope

__all__ = ["ANONYMOUS", "TOKEN_COOKIE", "Principal", "access", "route_access"]
ACCESS_MARKER = "_gridmap_access"
TOKEN_COOKIE = "gridmap_token"
_bearer = HTTPBearer(auto_error=False)


def _unauthorized(error: str, error_zh: str) -> Unauthorized:
    return Unauthorized(error, zh=error_zh, headers={"WWW-Authenticate": 'Bearer realm="gridmap"'})


def access(action: str, *, scope: str | None = None, form_key: str | None = None,
           cookie: bool = False) -> Callable[..., Principal]:
    """Build the dependency that guards one route (see module docstring). ``form_key`` also
    accepts the token as a form field (Open311's ``api_key``); ``cookie`` accepts the map pages'
    login cookie — on GET routes as it is, on writes only together with the page's CSRF token in
    ``X-CSRF-Token`` (a browser sends the cookie on its own; only our page knows the CSRF token,
    and SameSite=Strict keeps other sites' pages from sending the cookie at all)."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        token = credentials.credentials if credentials else None
        if token is None and form_key is not None and request.method == "POST":
            form = await request.form()
            token = form.get(form_key) or None
        from_cookie = False
        if token is None and cookie and TOKEN_COOKIE in request.cookies:
            candidate = request.cookies[TOKEN_COOKIE]
            if request.method in ("GET", "HEAD") or hmac.compare_digest(
                    request.headers.get("x-csrf-token", ""), csrf_token(candidate)):
                token, from_cookie = candidate, True
        known, principal = (True, ANONYMOUS) if token is None else cached_principal(
            request, str(token))
        if not known:  # not in memory: the database, off the event loop
            principal = await run_in_threadpool(principal_for_token, request, str(token))
        if principal is None and from_cookie:
            # an expired or revoked sign-in is simply signed out: the public pages still show,
            # and anything that needs a credential answers 401 below
            principal = ANONYMOUS
        elif principal is None:
            raise _unauthorized("unknown, expired or disabled token: ask an admin for one "
                                "(`gridmap user add` / `gridmap user rotate`)",
                                "身份凭证无效、已过期或已停用")
        require(principal, action)
        if scope is not None:
            area_code = request.path_params.get(scope) or request.query_params.get(scope)
            if area_code:
                require_scope(principal.scope_code, str(area_code))
        return principal

    if is_public(action) and form_key is None:
        inner = dependency

        async def public_dependency(request: Request) -> Principal:
            # A public route needs no credential, so it declares no security scheme in the
            # OpenAPI document; a token that is sent is still checked. The hot public routes
            # (locate, the resident lookup) answer anonymous callers without a thread hop.
            header = request.headers.get("authorization")
            if header is None and not (cookie and TOKEN_COOKIE in request.cookies):
                return ANONYMOUS
            scheme, _, value = (header or "").partition(" ")
            if header is not None and (scheme.lower() != "bearer" or not value.strip()):
                raise _unauthorized("send 'Authorization: Bearer <token>'", "身份凭证格式有误")
            credentials = (HTTPAuthorizationCredentials(scheme="Bearer", credentials=value.strip())
                           if header is not None else None)
            return await inner(request, credentials)

        dependency = public_dependency

    setattr(dependency, ACCESS_MARKER, (action, scope))
    dependency.__name__ = f"access_{action.replace('.', '_').replace(':', '_')}"
    return dependency


def csrf_token(token: str) -> str:
    """The value a signed-in page sends back with its writes (derived from the login token, so
    nothing is stored; the token itself never reaches the page's script)."""
    return hashlib.sha256(f"gridmap-csrf:{token}".encode()).hexdigest()[:32]


def keep_signed_in(response: Response, request: Request, token: str) -> None:
    """The sign-in cookie of the pages (staff maps, the worker's phone page). HttpOnly: no script
    reads it; SameSite=Strict: no other site's page sends it; a write made with it needs the
    page's CSRF token too (``access(..., cookie=True)``)."""
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=12 * 3600, path="/")


def principal_for_token(request: Request, token: str) -> Principal | None:
    """The principal a token stands for, or None when it is unknown, expired or disabled (from
    the process's credential cache, layers/access/credentials.py, else the database)."""

    def load(token: str):
        with request.app.state.sessionmaker() as session:
            return users.by_token(session, token, now=request.app.state.clock())

    return _principal(request, request.app.state.credentials.lookup(
        token, request.app.state.clock(), load))


def cached_principal(request: Request, token: str) -> tuple[bool, Principal | None]:
    """(known in memory, its principal) without the database — no thread hop needed."""
    known, credential = request.app.state.credentials.peek(token, request.app.state.clock())
    return known, _principal(request, credential) if known else None


def _principal(request: Request, credential) -> Principal | None:
    if credential is None:
        return None
    return Principal(name=credential.name, role=credential.role, scope_code=credential.scope_code,
                     worker=credential.worker_code, department=credential.department,
                     client=client_address(request.client.host if request.client else None,
                                           request.headers.get("x-forwarded-for"),
                                           request.app.state.settings.trusted_proxies))


def route_access(route) -> tuple[str, str | None] | None:
    """The (action, scope) a route declared, or None if it bypasses the seam."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        marker = getattr(dependant.call, ACCESS_MARKER, None)
        if marker is not None:
            return marker
        stack.extend(dependant.dependencies)
    return None
