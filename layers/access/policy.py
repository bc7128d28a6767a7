"""Who may do what, and where: the access policy every entry point asks.

A principal has a role and an area scope (a national code prefix; ``None`` is the whole district).
National codes are hierarchical (370811 ⊃ 370811008 ⊃ 370811008003 ⊃ 37081100800301), so "the
scope contains this area" is a prefix test. Domain functions take the caller's scope and apply it
in their queries; the API's security seam (api/security.py) only authenticates and names the role
a route needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.errors import DomainError
from layers.storage.models import UserRole

# Which principals' roles satisfy a required role. "worker" is the base signed-in role.
GRANTED_BY: dict[UserRole, set[UserRole]] = {
    UserRole.PUBLIC: set(UserRole),
    UserRole.WORKER: {UserRole.WORKER, UserRole.DISPATCHER, UserRole.PLANNER, UserRole.ADMIN},
    UserRole.DISPATCHER: {UserRole.DISPATCHER, UserRole.ADMIN},
    UserRole.PLANNER: {UserRole.PLANNER, UserRole.ADMIN},
    UserRole.ADMIN: {UserRole.ADMIN},
}


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class OutOfScope(DomainError):
    code = "out_of_scope"


@dataclass(frozen=True)
class Principal:
    name: str
    role: UserRole
    scope_code: str | None  # None: the whole district

    def covers(self, area_code: str) -> bool:
        return self.scope_code is None or area_code.startswith(self.scope_code)


ANONYMOUS = Principal(name="anonymous", role=UserRole.PUBLIC, scope_code=None)


def require_role(principal: Principal, required: UserRole) -> None:
    if principal.role not in GRANTED_BY[required]:
        raise Forbidden(f"role {principal.role.value} may not do this; it needs {required.value}",
                        zh="当前账号无此权限")


def require_scope(scope: str | None, area_code: str | None) -> None:
    """Refuse unless the scope contains the area. The message names the caller's own scope, never
    the area asked for (an out-of-scope caller learns nothing about where a case is)."""
    if scope is not None and not (area_code or "").startswith(scope):
        raise OutOfScope(f"this is outside your scope {scope}", zh="该区域不在您的管辖范围内")


# Case workflow actions a role may take; roles not listed may take every action. Workers handle
# what they are dispatched and report back; dispatchers run the rest.
TRANSITIONS_BY_ROLE: dict[UserRole, frozenset[str]] = {
    UserRole.WORKER: frozenset({"start", "feedback"}),
}


def require_transition(principal: Principal, action: str) -> None:
    allowed = TRANSITIONS_BY_ROLE.get(principal.role)
    if allowed is not None and action not in allowed:
        raise Forbidden(f"a {principal.role.value} may only {', '.join(sorted(allowed))}; "
                        f"{action} needs a dispatcher", zh="网格员无权执行该操作")
