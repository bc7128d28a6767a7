"""The security seam: every route names, through one dependency, the role and area scope it needs.

    @router.get("/v1/areas/{code}/workers")
    def workers(code: str, who: Annotated[Principal, Depends(access("worker", scope="code"))]):

``access(role, scope=param)`` authenticates the bearer token (when the role is not ``public``),
checks the principal's role grants ``role``, and — when ``scope`` names a path or query parameter
holding an area code — that the principal's scope contains that area. National codes are
hierarchical (370811 ⊃ 370811008 ⊃ 370811008003 ⊃ 37081100800301), so containment is a prefix test.
The app factory refuses to start if any route lacks this dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.errors import ApiError
from layers.access import users
from layers.storage.models import UserRole

# Which principals' roles satisfy a route's role. "worker" is the base signed-in role.
GRANTED_BY: dict[UserRole, set[UserRole]] = {
    UserRole.PUBLIC: set(UserRole),
    UserRole.WORKER: {UserRole.WORKER, UserRole.DISPATCHER, UserRole.PLANNER, UserRole.ADMIN},
    UserRole.DISPATCHER: {UserRole.DISPATCHER, UserRole.ADMIN},
    UserRole.PLANNER: {UserRole.PLANNER, UserRole.ADMIN},
    UserRole.ADMIN: {UserRole.ADMIN},
}
ACCESS_MARKER = "_gridmap_access"
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    name: str
    role: UserRole
    scope_code: str | None  # None: the whole district

    def covers(self, area_code: str) -> bool:
        return self.scope_code is None or area_code.startswith(self.scope_code)


ANONYMOUS = Principal(name="anonymous", role=UserRole.PUBLIC, scope_code=None)


def _unauthorized(error: str, error_zh: str) -> ApiError:
    return ApiError(401, "unauthorized", error, error_zh,
                    headers={"WWW-Authenticate": 'Bearer realm="gridmap"'})


def _principal_from_token(session: Session, token: str) -> Principal:
    user = users.by_token(session, token)
    if user is None:
        raise _unauthorized("unknown or disabled token: create one with `gridmap user add`",
                            "身份凭证无效或已停用")
    return Principal(name=user.name, role=user.role, scope_code=user.scope_code)


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
            if principal.role not in GRANTED_BY[required]:
                raise ApiError(403, "forbidden", f"role {principal.role.value} may not do this; "
                               f"it needs {required.value}", "当前账号无此权限")
            if scope is not None:
                area_code = request.path_params.get(scope) or request.query_params.get(scope)
                if area_code:
                    require_scope(principal, str(area_code))
            return principal

    setattr(dependency, ACCESS_MARKER, (required, scope))
    dependency.__name__ = f"access_{required.value}"
    return dependency


def _principal_for(request: Request, token: str) -> Principal:
    with request.app.state.sessionmaker() as session:
        return _principal_from_token(session, token)


def require_scope(principal: Principal, area_code: str) -> None:
    """403 unless the principal's scope contains the area (for routes whose area is found later,
    e.g. a case's grid)."""
    if not principal.covers(area_code):
        raise ApiError(403, "out_of_scope",
                       f"area {area_code} is outside your scope {principal.scope_code}",
                       "该区域不在您的管辖范围内")


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
