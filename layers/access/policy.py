"""Who may do what, and where: the one access policy every entry point asks.

**Role × action.** Every route, CLI export and batch job names an *action* (``case.create``,
``case.act:close``, ``stats.read``, …); :data:`POLICY` says which roles may take it. Nothing
else grants anything: a route without an action does not start (api/app.py), and a test walks
every route with every role.

**Area scope.** A principal may be limited to an area: a national code prefix (``None`` is the
whole district). Codes are hierarchical (370811 ⊃ 370811008 ⊃ 370811008003 ⊃ 37081100800301), so
"the scope contains this area" is a prefix test. Domain functions take the caller's scope and
apply it *in their queries*; a refusal names the caller's own scope, never the area asked for.

**Layers.** Who may read a layer (OGC collections, tiles, map overlays) is declared per layer in
layers/registry.py (``read_role``: a role, or an action of this table) and checked with
:func:`may_read`.

**Cases.** Who may see a case in full is one rule, :func:`may_see_case`, whatever the door: the
REST reads (``case.read`` and the caller's scope), Open311's listing, and the cases layer's tiles
(its ``read_role`` is the action ``case.read``, its scope the case's grid code).
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.errors import DomainError
from layers.storage.models import UserRole

R = UserRole
_PUBLIC = frozenset({
    "health", "locate", "geocode", "resident.lookup", "areas.read", "generations.read",
    "map.public", "tiles.read", "open311.read", "docs.read", "resident.contact",
})
_SIGNED_IN = frozenset({"me", "case.read", "routing.read", "areas.workers", "ogc.read",
                        "address.read"})
# the register: a worker looks people up in their grids and calls them (so may identify them:
# decrypted ID and phone numbers), and records the month's care visits
_REGISTER_WORKER = {"person.read", "person.identify", "organisation.read", "visit.read",
                    "visit.create", "patrol.create", "patrol.read"}
_WORKER = _SIGNED_IN | {"case.create", "case.photo", "case.act:start",
                        "case.act:feedback", "task.mine", "task.act"} | _REGISTER_WORKER
# a street's dispatcher sees its people masked, follows visit compliance, and sees 重点人员
# (case.devices: the cameras that see a case and the loudspeakers that reach it — the camera
# layout is the dispatcher's, as the camera layer is)
_DISPATCHER = (_WORKER - {"person.identify"}) | {
    "case.act:*", "alert.create", "alert.respond", "stats.read", "map.staff", "visit.compliance",
    "person.sensitive", "task.create", "task.read", "assessment.read", "case.devices",
    "desk.use",
    "address.write"}  # and keeps the standard addresses of its street (inside its scope)
# register.import, register.export and register.export_personal: the admin only (via "*")
_PLANNER = _SIGNED_IN | {"stats.read", "map.staff", "plan.read", "plan.write"}
# a department places tasks into grids and follows its own (no cases, no register, no stats)
_DEPARTMENT = frozenset({"me", "routing.read", "areas.workers", "task.create", "task.read"})

# Prometheus scrapes with a credential of its own (`gridmap user add prometheus --role metrics
# --days 0`, the token in a file its scrape config names): the metrics and nothing else
_METRICS = frozenset({"metrics.read"})

# role → the actions it may take ("case.act:*" covers every workflow action; admin has "*")
POLICY: dict[UserRole, frozenset[str]] = {
    R.PUBLIC: _PUBLIC,
    R.WORKER: _PUBLIC | _WORKER,
    R.DISPATCHER: _PUBLIC | _DISPATCHER,
    R.PLANNER: _PUBLIC | _PLANNER,
    R.DEPARTMENT: _PUBLIC | _DEPARTMENT,
    R.METRICS: _PUBLIC | _METRICS,
    R.ADMIN: frozenset({"*"}),
}
# Reading a layer: which principals' roles satisfy a layer's declared read_role.
READ_GRANTED_BY: dict[UserRole, set[UserRole]] = {
    R.PUBLIC: set(UserRole),
    R.WORKER: {R.WORKER, R.DISPATCHER, R.PLANNER, R.ADMIN},  # staff layers: not departments
    R.DISPATCHER: {R.DISPATCHER, R.ADMIN},
    R.PLANNER: {R.PLANNER, R.ADMIN},
    R.ADMIN: {R.ADMIN},
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
    client: str | None = None  # the caller's address, for the audit log
    worker: str | None = None  # the worker a worker's credential belongs to (their code)
    department: str | None = None  # the department a department's credential speaks for

    def covers(self, area_code: str | None) -> bool:
        return self.scope_code is None or (area_code or "").startswith(self.scope_code)

    @property
    def signed_in(self) -> bool:
        return self.role != R.PUBLIC


ANONYMOUS = Principal(name="anonymous", role=R.PUBLIC, scope_code=None)


def allows(role: UserRole, action: str) -> bool:
    granted = POLICY[role]
    if "*" in granted or action in granted:
        return True
    family, _, _ = action.partition(":")
    return f"{family}:*" in granted


def is_public(action: str) -> bool:
    return allows(R.PUBLIC, action)


def require(principal: Principal, action: str) -> None:
    """Refuse (401 for anonymous, 403 otherwise) unless the principal's role may take ``action``."""
    if allows(principal.role, action):
        return
    if not principal.signed_in:
        raise Unauthorized(f"{action} needs a credential: send 'Authorization: Bearer <token>'",
                           zh="请先登录", headers={"WWW-Authenticate": 'Bearer realm="gridmap"'})
    raise Forbidden(f"role {principal.role.value} may not {action}", zh="当前账号无此权限")


def may_see_case(principal: Principal, grid_code: str | None) -> bool:
    """The one rule for seeing a case in full (description, place, photos), whatever the door
    (REST, Open311, tiles, exports): a role that may ``case.read``, whose scope covers the case's
    grid. Being signed in is not enough: a department's credential is district-wide but may not
    read cases. The queries that list cases apply the same rule as SQL (the cases layer's
    ``read_role`` is ``case.read`` and its scope column the grid code; REST lists by prefix)."""
    return allows(principal.role, "case.read") and principal.covers(grid_code)


def role_may_read(role: UserRole, read_role: str) -> bool:
    """Whether ``role`` may read a layer declared with ``read_role``: a role (and the roles above
    it, READ_GRANTED_BY) or an action of the policy (``case.read``)."""
    if "." in read_role:
        return allows(role, read_role)
    return role in READ_GRANTED_BY[UserRole(read_role)]


def may_read(principal: Principal, read_role: str) -> bool:
    """Whether the principal's role may read a layer declared with ``read_role``."""
    return role_may_read(principal.role, read_role)


def require_read(principal: Principal, read_role: str, what: str) -> None:
    if may_read(principal, read_role):
        return
    if not principal.signed_in:
        raise Unauthorized(f"{what} is not public: send 'Authorization: Bearer <token>'",
                           zh="请先登录", headers={"WWW-Authenticate": 'Bearer realm="gridmap"'})
    raise Forbidden(f"role {principal.role.value} may not read {what}", zh="当前账号无此权限")


def require_scope(scope: str | None, area_code: str | None) -> None:
    """Refuse unless the scope contains the area. The message names the caller's own scope, never
    the area asked for (an out-of-scope caller learns nothing about where a case is)."""
    if scope is not None and not (area_code or "").startswith(scope):
        raise OutOfScope(f"this is outside your scope {scope}", zh="该区域不在您的管辖范围内")


def require_transition(principal: Principal, action: str) -> None:
    """A workflow action (register, dispatch, close, …) is ``case.act:<action>`` in the policy."""
    require(principal, f"case.act:{action}")
