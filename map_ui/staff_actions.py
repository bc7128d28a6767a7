"""Every staff action of the API and the page that offers it (issue 23: "every staff action of
the API reachable from a page by a role allowed to do it").

A *staff action* is a write route (POST, PUT, PATCH, DELETE) whose access action is not public
— Open311 and OGC are other clients' doors, and the public writes (sign-in, a batch locate) are
no staff action. Each one has a row here naming the pages that offer it; the roles it is for
come from the access policy, so the table cannot drift from the policy.
tests/test_staff_actions.py holds the table against the app: a staff write route without a row,
a row for a route that no longer exists, a role allowed to act that may enter none of the row's
pages, or a docs/maps.md table that differs from :func:`markdown` fails. A row without a page
must say why (``gap``): those are listed in the docs as not done, and the test fails once a page
offers them (so the gap is closed here too).
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.access.policy import allows
from layers.storage.models import UserRole
from map_ui import chrome

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STAFF_ROLES = (UserRole.WORKER, UserRole.DISPATCHER, UserRole.PLANNER, UserRole.DEPARTMENT,
               UserRole.ADMIN)
# the pages reached from a header page rather than from the header itself: page → its action
SUBPAGES = {"/map/plan/{id}": "plan.read"}


@dataclass(frozen=True)
class StaffAction:
    method: str
    path: str  # as the app declares it
    zh: str  # what the action is, as staff call it
    pages: tuple[str, ...]  # the header pages (chrome.LINKS) or SUBPAGES that offer it
    # the policy actions that decide who may act, when the route's own action is only the door
    # (a workflow transition's route asks case.read; each action asks case.act:<action>)
    acts: tuple[str, ...] = ()
    gap: str = ""  # why no page offers it yet


_A = StaffAction
_PLAN = "/map/plan/{id}"
ACTIONS: tuple[StaffAction, ...] = (
    _A("POST", "/v1/cases", "登记案件（热线、来访、巡查上报）", ("/desk", "/m/")),
    _A("POST", "/v1/cases/{case_id}/transitions", "案件办理（立案、派遣、处置、核查、结案、改派、督办…）",
       ("/desk", "/m/"), acts=("case.act:register", "case.act:start")),
    _A("POST", "/v1/cases/{case_id}/photos", "案件照片", ("/desk", "/m/")),
    _A("POST", "/v1/cases/{case_id}/responses", "告警远程喊话（劝导驱离）", ("/desk",)),
    _A("POST", "/v1/alerts", "摄像头告警转为案件", (),
       gap="the camera platform's feed (a credential of its own); a dispatcher does not type "
           "alerts in"),
    _A("PUT", "/v1/routing", "案件路由规则（类别→处置单位、时限、重复半径）", ("/desk/routing",)),
    _A("PUT", "/v1/stats/workers/weights", "网格员考核权重", ("/desk/weights",)),
    _A("POST", "/v1/tasks", "部门任务下单到网格", ("/desk/tasks",)),
    _A("POST", "/v1/grid-tasks/{grid_task_id}/transitions", "网格任务接收、进展、完成、转案件",
       ("/m/",)),
    _A("POST", "/v1/visits", "每月必访登记", ("/m/",)),
    _A("POST", "/v1/visits/{visit_id}/photos", "走访照片", ("/m/",)),
    _A("POST", "/v1/patrols", "巡查轨迹上传", ("/m/",)),
    _A("POST", "/v1/addresses", "新增标准地址", ("/desk/addresses",)),
    _A("PATCH", "/v1/addresses/{code}", "修改标准地址", ("/desk/addresses",)),
    _A("DELETE", "/v1/addresses/{code}", "删除标准地址", ("/desk/addresses",)),
    _A("POST", "/v1/plans", "新建网格调整方案", ("/map/plans",)),
    _A("DELETE", "/v1/plans/{plan_id}", "放弃方案", ("/map/plans",)),
    _A("POST", "/v1/plans/{plan_id}/cancel", "撤回已排期方案", ("/map/plans",)),
    _A("POST", "/v1/plans/{plan_id}/undo", "撤销", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/redo", "重做", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/restore", "回到历史版本", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/rebase", "合并现行边界", (_PLAN,)),
    _A("PUT", "/v1/plans/{plan_id}/grids/{code}", "修改网格边界", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/split", "拆分网格", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/merge", "合并网格", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/grids", "新画网格", (_PLAN,)),
    _A("DELETE", "/v1/plans/{plan_id}/grids/{code}", "删除网格", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/upload", "上传网格（GeoJSON）", (_PLAN,)),
    _A("PUT", "/v1/plans/{plan_id}/grids/{code}/workers", "网格配备网格员", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/assign", "单元划入网格", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/suggest", "自动建议划分", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/rebalance", "最小调整使户数达标", (_PLAN,)),
    _A("POST", "/v1/plans/{plan_id}/publish", "发布方案", (_PLAN,)),
)


def page_action(page: str) -> str | None:
    """The access action a page's route asks (its header link's), or None for no such page."""
    for link in chrome.LINKS:
        if link.path == page:
            return link.action
    return SUBPAGES.get(page)


def roles(action: StaffAction, route_action: str) -> list[UserRole]:
    """The staff roles the policy lets take the action."""
    decisive = action.acts or (route_action,)
    return [r for r in STAFF_ROLES if any(allows(r, a) for a in decisive)]


def markdown(route_actions: dict[tuple[str, str], str]) -> str:
    """The table docs/maps.md carries ("Every staff action and its page"); ``route_actions``
    maps (method, path) to the route's declared access action."""
    rows = ["| Action | Route | Roles (policy) | Page |", "|---|---|---|---|"]
    for a in ACTIONS:
        who = ", ".join(chrome.ROLE_ZH[r] for r in roles(a, route_actions[(a.method, a.path)]))
        page = ", ".join(f"`{p}`" for p in a.pages) or f"— not yet: {a.gap}"
        rows.append(f"| {a.zh} | `{a.method} {a.path}` | {who} | {page} |")
    return "\n".join(rows)
