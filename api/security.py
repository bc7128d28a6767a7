"""The security seam: every route names, through one dependency, the role and area scope it needs.

    @router.get("/v1/areas/{code}/workers")
    def workers(code: str, who: Annotated[Principal, Depends(access("worker", scope="code"))]):

``access(role, scope=param)`` authenticates the bearer token (when the role is not ``public``),
asks the access policy (layers/access/policy.py) whether the principal's role grants ``role``,
and — when ``scope`` names a path or query parameter holding an area code — whether the
principal's scope contains that area. Domain functions apply the scope in their own queries.
The app factory refuses to start if any route lacks this dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from layers.access import users
from layers.access.policy import (
    ANONYMOUS,
    Principal,
    Unauthorized,
    require_role,
    require_scope,
)
from layers.storage.models import UserRole

__all__ = ["ANONYMOUS", "Principal", "access", "route_access"]
ACCESS_MARKER = "_gridmap_access"
_bearer = HTTPBearer(auto_error=False)


def _unauthorized(error: str, error_zh: str) -> Unauthorized:
    return Unauthorized(error, zh=error_zh, headers={"WWW-Authenticate": 'Bearer realm="gridmap"'})


def access(role: str, *, scope: str | None = None, form_key: str | None = None
           ) -> Callable[..., Principal]:
    """Build the dependency that guards one route (see module docstring). ``form_key`` also
    accepts the token as a form field (Open311's ``api_key``)."""
    required = UserRole(role)

    if required == UserRole.PUBLIC:
        async def dependency() -> Principal:  # async: no thread hop on the hot public routes
            return ANONYMOUS
    else:
        async def dependency(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> Principal:
            token = credentials.credentials if credentials else None
            if token is None and form_key is not None:
                form = await request.form()
                token = form.get(form_key) or None
            if token is None:
                raise _unauthorized(f"this needs a {required.value} credential: "
                                    "send 'Authorization: Bearer <token>'", "请先登录")
            principal = await run_in_threadpool(_principal_for, request, str(token))
            require_role(principal, required)
            if scope is not None:
                area_code = request.path_params.get(scope) or request.query_params.get(scope)
                if area_code:
                    require_scope(principal.scope_code, str(area_code))
            return principal

    setattr(dependency, ACCESS_MARKER, (required, scope))
    dependency.__name__ = f"access_{required.value}"
    return dependency


def _principal_for(request: Request, token: str) -> Principal:
    with request.app.state.sessionmaker() as session:
        user = users.by_token(session, token)
    if user is None:
        raise _unauthorized("unknown or disabled token: create one with `gridmap user add`",
                            "身份凭证无效或已停用")
    return Principal(name=user.name, role=user.role, scope_code=user.scope_code)


def route_access(route) -> tuple[UserRole, str | None] | None:
    """The (role, scope) a route declared, or None if it bypasses the seam."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        marker = getattr(dependant.call, ACCESS_MARKER, None)
        if marker is not None:
            return marker
        stack.extend(dependant.dependencies)
    return None
