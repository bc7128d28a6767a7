"""What every page shares: the header (role-aware navigation, who is signed in, sign-out), the
role-aware home page and the "not allowed here" page.

A link is shown only to a role the access policy lets take the link's action — the same action
the page's route checks — so the navigation never offers a page its user may not enter, and it
follows the policy when the policy changes. Pages that are cached for everyone (the coverage and
resident maps) carry :data:`PLACEHOLDER`, which the router replaces with the caller's header.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from layers.access.policy import Principal, allows
from layers.storage.models import UserRole

PLACEHOLDER = "<!--gridmap-header-->"
ROLE_ZH = {UserRole.PUBLIC: "访客", UserRole.WORKER: "网格员", UserRole.DISPATCHER: "调度员",
           UserRole.PLANNER: "规划员", UserRole.DEPARTMENT: "职能部门", UserRole.ADMIN: "管理员",
           UserRole.METRICS: "监控采集"}


@dataclass(frozen=True)
class Link:
    path: str
    label: str
    action: str  # the access-policy action the page's route requires
    about: str  # one line on the home page


LINKS = (
    Link("/desk", "调度台", "desk.use", "案件队列、详情与办理、实时更新"),
    Link("/map/cases", "案件地图", "map.staff", "在办与近期办结案件的分布、热力图"),
    Link("/desk/tasks", "部门任务", "task.read", "下单到网格：按区域或地图圈选派发，跟踪各网格进度"),
    Link("/desk/stats", "统计分析", "stats.read", "结案率、按期率、办结时长、积压与超期，可导出"),
    Link("/desk/register", "实有人口", "person.read", "人员、房屋、单位查询（按权限脱敏并留痕）"),
    Link("/desk/addresses", "标准地址", "address.write", "标准地址查询、修改、新增与删除（一标三实）"),
    Link("/desk/routing", "路由规则", "routing.write", "案件类别由谁处置、办理时限、重复判定半径"),
    Link("/desk/weights", "考核权重", "assessment.weights", "网格员考核各项指标的权重及其历次版本"),
    Link("/map/plans", "网格规划", "plan.read", "网格边界调整方案"),
    Link("/map/coverage", "网格覆盖图", "map.public", "网格、网格员与网格会客厅"),
    Link("/m/", "网格员手机端", "task.mine", "我的网格、上报、任务、巡查、走访"),
    Link("/map/locate", "找网格员", "map.public", "居民查询所在网格与网格员"),
    Link("/docs", "API 文档", "docs.read", "接口说明"),
)


def links_for(principal: Principal) -> list[Link]:
    return [link for link in LINKS if allows(principal.role, link.action)]


def header(principal: Principal, current: str = "", *, logout: str = "/map/logout") -> str:
    """The header bar of every page: the pages this role may enter, who is signed in, sign-out
    (a form post: a link could be followed by a prefetch). On a narrow screen (a phone) the
    links and the sign-in part fold into a 菜单 button that opens them as a list under the bar,
    and the bar names the page you are on; the button is a checkbox and its label, so the menu
    needs no script and works on the cached map pages and the API docs alike (gridmap.css)."""
    links = links_for(principal)
    nav = "".join(
        f"<a href='{link.path}'{' aria-current=page' if link.path == current else ''}>"
        f"{link.label}</a>" for link in links)
    here = next((link.label for link in links if link.path == current), "")
    if principal.signed_in:
        who = (f"<span class='gm-who'>{html.escape(principal.name)} · "
               f"{ROLE_ZH[principal.role]}</span>"
               f"<form method='post' action='{logout}' class='gm-logout'>"
               "<button type='submit'>退出登录</button></form>")
    else:
        who = "<a class='gm-who' href='/map/login'>工作人员登录</a>"
    return (f"<header class='gm-header'><a class='gm-brand' href='/'>gridmap</a>"
            f"<span class='gm-here'>{here}</span>"
            "<input type='checkbox' id='gm-menu-toggle' class='gm-menu-toggle' "
            "aria-label='菜单' aria-controls='gm-menu'>"
            "<label for='gm-menu-toggle' class='gm-menu-button'>☰ 菜单</label>"
            f"<div class='gm-menu' id='gm-menu'><nav>{nav}</nav>{who}</div></header>")


def document(title: str, body: str, principal: Principal, current: str = "", *,
             head: str = "", body_class: str = "") -> str:
    """A whole page with the shared header (the desk, statistics, register, task, routing and
    weights pages) and the pages' shared script (map_ui/static/staff.js)."""
    return ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)} · gridmap</title><link rel='icon' href='data:,'>"
            "<link rel='stylesheet' href='/static/gridmap.css'>"
            f"{head}<script src='/static/staff.js'></script>"
            f"<body class='gm-page {body_class}'>{header(principal, current)}"
            f"{body}</body></html>")


def home(principal: Principal) -> str:
    """The home page: what this role may do here, each with a line saying what it is for."""
    cards = "".join(
        f"<li><a href='{link.path}'><b>{link.label}</b></a><br><small>{link.about}</small></li>"
        for link in links_for(principal))
    greeting = (f"<p>{html.escape(principal.name)}，您好（{ROLE_ZH[principal.role]}）。</p>"
                if principal.signed_in else
                "<p>居民可直接查询网格员；工作人员请<a href='/map/login'>登录</a>"
                "后使用调度台、统计等功能。</p>")
    return document("首页", f"<main class='gm-home'><h1>网格化服务管理空间底座</h1>{greeting}"
                            f"<ul class='gm-cards'>{cards}</ul></main>", principal, "/")


def not_allowed(principal: Principal, page: str) -> str:
    """A signed-in role on a page it may not enter: say so plainly, and where it may go."""
    body = (f"<main class='gm-home'><h1>无权进入「{html.escape(page)}」</h1>"
            f"<p class='gm-error'>当前账号（{html.escape(principal.name)}，"
            f"{ROLE_ZH[principal.role]}）没有进入此页面的权限。如需使用，请联系管理员调整账号角色，"
            "或<a href='/map/login'>换一个账号登录</a>。</p>"
            "<p><small>Your role may not use this page.</small></p>"
            "<p>您可以使用：</p><ul class='gm-cards'>" +
            "".join(f"<li><a href='{link.path}'>{link.label}</a></li>"
                    for link in links_for(principal)) + "</ul></main>")
    return document("无权访问", body, principal)
