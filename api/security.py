"""The security seam: every route names, through one dependency, the action it performs.

    @router.get("/v1/areas/{code}/workers")
    def workers(code: str, who: Annotated[Principal, Depends(access("areas.workers", scope="code"))]):

``access(action, scope=param)`` finds out who calls (a bearer token; for the map pages and their
tiles also the ``gridmap_session`` cookie of a page sign-in — a server-side session,
layers/access/sessions.py — since a browser cannot send a header with a page load) and asks
the access policy (layers/access/policy.py) whether that role may take ``action``. When
``scope`` names a path or query parameter holding an area code, the principal's scope must
contain it. Public actions need no token, but a token that is sent is
checked (an invalid one is a 401, never silently anonymous) and its principal is passed on, so
staff see more on public routes where the domain allows it.

The app factory refuses to start if any route lacks this dependency.

The pages' sign-in and sign-out (``sign_in``, ``sign_out``) live here too, beside the cookie they
set: a sign-in form is accepted only from our own origin and with the form token our login page
gave (no login CSRF), failures are throttled per client, and each sign-in starts a new session.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from layers.access import sessions, users
from layers.access.clients import client_address
from layers.access.credentials import Credential
from layers.access.policy import (
    ANONYMOUS,
    Forbidden,
    Principal,
    Unauthorized,
    allows,
    is_public,
    require,
    require_scope,
)

__all__ = ["ANONYMOUS", "SESSION_COOKIE", "Principal", "access", "route_access"]
ACCESS_MARKER = "_gridmap_access"
SESSION_COOKIE = "gridmap_session"  # a page sign-in: a random session id (sessions.py)
LOGIN_COOKIE = "gridmap_login"  # the sign-in form's token, given with the form
_bearer = HTTPBearer(auto_error=False)


def _unauthorized(error: str, error_zh: str) -> Unauthorized:
    return Unauthorized(error, zh=error_zh, headers={"WWW-Authenticate": 'Bearer realm="gridmap"'})


def access(action: str, *, scope: str | None = None, form_key: str | None = None,
           cookie: bool = False) -> Callable[..., Principal]:
    """Build the dependency that guards one route (see module docstring). ``form_key`` also
    accepts the token as a form field (Open311's ``api_key``); ``cookie`` accepts the pages'
    session cookie — on GET routes as it is, on writes only together with the page's CSRF token
    in ``X-CSRF-Token`` (a browser sends the cookie on its own; only our page knows the CSRF
    token, and SameSite=Strict keeps other sites' pages from sending the cookie at all)."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        token = credentials.credentials if credentials else None
        if token is None and form_key is not None and request.method == "POST":
            form = await request.form()
            token = form.get(form_key) or None
        session_id = None
        if token is None and cookie and SESSION_COOKIE in request.cookies:
            candidate = request.cookies[SESSION_COOKIE]
            if request.method in ("GET", "HEAD") or hmac.compare_digest(
                    request.headers.get("x-csrf-token", ""), sessions.csrf_of(candidate)):
                session_id = candidate
        if session_id is not None:
            known, principal = cached_principal(request, sessions.cache_key(session_id))
            if not known:
                principal = await run_in_threadpool(principal_for_session, request, session_id)
            # an expired or revoked sign-in is simply signed out: the public pages still show,
            # and anything that needs a credential answers 401 below
            principal = principal or ANONYMOUS
        else:
            known, principal = (True, ANONYMOUS) if token is None else cached_principal(
                request, str(token))
            if not known:  # not in memory: the database, off the event loop
                principal = await run_in_threadpool(principal_for_token, request, str(token))
        if principal is None:
            # guessing is throttled per client: too many bad tokens answer 429, not 401
            await run_in_threadpool(request.app.state.auth_throttle.failed, _client(request))
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
            if header is None and not (cookie and SESSION_COOKIE in request.cookies):
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


def page_csrf(request: Request) -> str | None:
    """The CSRF token a signed-in page sends back with its writes (None when not signed in)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    return sessions.csrf_of(session_id) if session_id else None


def principal_for_token(request: Request, token: str) -> Principal | None:
    """The principal a token stands for, or None when it is unknown, expired or disabled (from
    the process's credential cache, layers/access/credentials.py, else the database)."""

    def load(token: str) -> Credential | None:
        with request.app.state.sessionmaker() as session:
            user = users.by_token(session, token, now=request.app.state.clock())
            return Credential.of(user) if user is not None else None

    return _principal(request, request.app.state.credentials.lookup(
        token, request.app.state.clock(), load))


def principal_for_session(request: Request, session_id: str) -> Principal | None:
    """The principal of a page's session, or None when it is unknown, ended or its credential
    no longer valid (cached like tokens, forgotten on every sign-out or revocation)."""

    def load(_key: str) -> Credential | None:
        with request.app.state.sessionmaker() as session:
            return sessions.credential(session, session_id, now=request.app.state.clock())

    return _principal(request, request.app.state.credentials.lookup(
        sessions.cache_key(session_id), request.app.state.clock(), load))


def _client(request: Request) -> str:
    return client_address(request.client.host if request.client else None,
                          request.headers.get("x-forwarded-for"),
                          request.app.state.settings.trusted_proxies)


# -- the pages' sign-in ------------------------------------------------------------------------
def login_form_token(request: Request) -> str:
    """The token a sign-in form must carry back (``form_token``): the value of the login cookie
    the browser has, else a new one — given to the browser by :func:`give_login_cookie` with the
    form, so two tabs agree."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def give_login_cookie(response: Response, request: Request, token: str) -> Response:
    """The sign-in form's cookie: SameSite=Strict and HttpOnly, so another site's page can
    neither read it nor make the browser send it — a form posted from there lacks it."""
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=3600, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def _same_origin(request: Request) -> None:
    """Refuse a form posted from another site: its Origin (or, without one, its Referer) must
    name our host — the Host the browser spoke to (the host, not the scheme: behind a proxy that
    ends TLS the app is spoken to in http while the page's origin is https). Clients that send
    neither are not browsers on another site; the form token still applies to them."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return
    ours = request.headers.get("host", "")
    if urlsplit(origin).netloc != ours:
        raise Forbidden(f"sign-in forms are accepted only from this site ({ours}), not from "
                        f"{origin[:100]}", code="cross_site", zh="登录请求来自其他网站，已拒绝")


class SignInForm(BaseModel):
    """The pages' sign-in form (a missing field signs nobody in: the form is shown again)."""

    token: str = Field(default="", max_length=1000, description="a staff credential's token")
    form_token: str = Field(default="", max_length=200,
                            description="the token the login page gave with the form")
    next: str = Field(default="", max_length=2000, description="the page to go back to")


SignInFormDep = Annotated[SignInForm, Form()]


async def sign_in(request: Request, form: SignInForm, *, may: str, target: str,
                  failed: str) -> Response:
    """Check a sign-in form (origin, form token, throttle, the credential and that its role may
    ``may``) and start a session: a redirect to ``target`` with the session cookie, or to
    ``failed``."""
    _same_origin(request)
    client, throttle = _client(request), request.app.state.auth_throttle
    await run_in_threadpool(throttle.check, client)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(form.form_token, expected):
        # no form of ours (or one older than its cookie): show the form again, sign nobody in
        return RedirectResponse(failed, status_code=303)
    token = form.token.strip()
    now = request.app.state.clock()

    def start() -> str | None:
        with request.app.state.sessionmaker() as session:
            user = users.by_token(session, token, now=now) if token else None
            if user is None or not allows(user.role, may):
                return None
            if old := request.cookies.get(SESSION_COOKIE):  # a new sign-in ends the old one
                sessions.end(session, old, now=now)
            session_id = sessions.start(session, user, now=now, client=client,
                                        hours=request.app.state.settings.session_hours)
            session.commit()
            return session_id

    session_id = await run_in_threadpool(start)
    if session_id is None:
        await run_in_threadpool(throttle.failed, client)
        return RedirectResponse(failed, status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/",
                        max_age=int(request.app.state.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


async def sign_out(request: Request, *, target: str) -> Response:
    """End the page's session on the server (not only in this browser) and drop the cookie."""
    _same_origin(request)
    if session_id := request.cookies.get(SESSION_COOKIE):

        def end() -> None:
            with request.app.state.sessionmaker.begin() as session:
                sessions.end(session, session_id, now=request.app.state.clock())

        await run_in_threadpool(end)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


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
