"""The dispatcher's desk page (``/desk``): the case queue beside the map, one case's detail with
its timeline and the actions the caller's role may take, live updates. A plain page on the
vendored Leaflet (not a Folium map): it is an application whose content comes from the API after
it loads (map_ui/static/desk.js), so there is nothing for a map builder to pre-render, and the
page stays a few kilobytes however many cases there are."""

from __future__ import annotations

import html
import json

from layers.access.policy import Principal, allows
from layers.cases.desk import SOURCE_ZH
from layers.cases.workflow import STATUS_ZH
from map_ui import chrome
from map_ui.pages import STATUS_COLOURS

V = "/static/vendor"
LEAFLET_HEAD = (f"<link rel='stylesheet' href='{V}/leaflet/leaflet.css'>"
                f"<script src='{V}/leaflet/leaflet.js'></script>"
                f"<script src='{V}/vectorgrid/Leaflet.VectorGrid.bundled.min.js'></script>"
                "<script src='/static/gcj02.js'></script>")


def config_attr(config: dict) -> str:
    """A page's configuration as a data attribute (HTML-escaped JSON: no inline script)."""
    return html.escape(json.dumps(config, ensure_ascii=False), quote=True)


def desk(principal: Principal, *, csrf: str | None, filters: dict, outlines: dict,
         basemap: tuple[str | None, str, str]) -> str:
    """The desk; ``outlines`` are the street outlines of the caller's scope (GeoJSON, in the
    basemap's datum), ``filters`` what the queue's filters offer."""
    url, datum, attribution = basemap
    config = {
        "csrf": csrf, "role": principal.role.value, "scope": principal.scope_code,
        "statuses": {s.value: zh for s, zh in STATUS_ZH.items()}, "colours": STATUS_COLOURS,
        "sources": SOURCE_ZH, "basemap": {"url": url, "datum": datum, "attribution": attribution},
        "may": {"respond": allows(principal.role, "alert.respond"),
                "create": allows(principal.role, "case.create"),
                "photo": allows(principal.role, "case.photo")}, "outlines": outlines,
        **filters,
    }
    body = f"""
<div class="gm-desk" data-config="{config_attr(config)}">
  <aside class="gm-queue">
    <p class="gm-queue-top"><button type="button" id="gm-new-case" class="gm-primary" hidden>登记新案件
      （热线/来访）</button></p>
    <div id="gm-new-form"></div>
    <form id="gm-filter" class="gm-filter">
      <select name="state" title="办理状态"><option value="open">在办</option>
        <option value="closed">已办结/作废</option><option value="all">全部</option></select>
      <select name="status" title="环节"><option value="">全部环节</option></select>
      <select name="category" title="类别"><option value="">全部类别</option></select>
      <select name="source" title="来源"><option value="">全部来源</option></select>
      <select name="street" title="镇街"><option value="">全部镇街</option></select>
      <select name="community" title="社区/村"><option value="">全部社区/村</option></select>
      <input name="grid" placeholder="网格编码" pattern="\\d{{14,15}}" size="15" title="网格编码">
      <select name="days" title="上报时间"><option value="">不限时间</option>
        <option value="1">近1天</option><option value="7">近7天</option>
        <option value="30">近30天</option><option value="90">近90天</option>
        <option value="365">近一年</option></select>
      <select name="sort" title="排序"><option value="deadline">按办理时限</option>
        <option value="newest">最新上报</option></select>
      <label><input type="checkbox" name="overdue"> 超期</label>
      <label><input type="checkbox" name="escalated"> 已升级</label>
      <label><input type="checkbox" name="supervised"> 督办</label>
    </form>
    <div id="gm-counts" class="gm-counts-bar"></div>
    <p id="gm-live" class="gm-live" aria-live="polite">实时更新：连接中…</p>
    <p id="gm-toast" class="gm-toast" aria-live="polite"></p>
    <div class="gm-list-wrap"><table id="gm-list" class="gm-list">
      <thead><tr><th>案件号</th><th>类别</th><th>环节</th><th>网格</th><th>办理时限</th></tr></thead>
      <tbody></tbody></table></div>
  </aside>
  <div id="gm-map" class="gm-desk-map"></div>
  <section id="gm-detail" class="gm-detail" hidden></section>
</div>
<script src="/static/desk.js"></script>"""
    return chrome.document("调度台", body, principal, "/desk", head=LEAFLET_HEAD,
                           body_class="gm-fill")


def stats(principal: Principal, *, filters: dict) -> str:
    """The statistics page: close rate, on-time rate, time to close, backlog and overdue by
    street, community, grid, category or month — charts and a table, names with codes, export
    (map_ui/static/stats.js reads /v1/stats/…)."""
    reports = {name: allows(principal.role, action) for name, action in (
        ("alerts", "stats.read"), ("register", "stats.read"), ("visits", "visit.compliance"),
        ("workers", "assessment.read"))}
    config = {"scope": principal.scope_code, "streets": filters["streets"],
              "communities": filters["communities"], "categories": filters["categories"],
              "reports": [name for name, may in reports.items() if may]}
    body = f"""
<main class="gm-stats" data-config="{config_attr(config)}">
  <form id="gm-stats-form" class="gm-filter">
    <label>统计维度 <select name="dimension"><option value="street">镇街</option>
      <option value="community">社区/村</option><option value="grid">网格</option>
      <option value="category">类别</option><option value="period">月份</option>
      <option value="summary">全区合计</option></select></label>
    <label>从 <input type="date" name="from"></label>
    <label>至（不含） <input type="date" name="to"></label>
    <label>区域 <select name="area"><option value="">全部（我的范围）</option></select></label>
    <label>类别 <select name="category"><option value="">全部类别</option></select></label>
    <button type="submit">统计</button>
    <a id="gm-csv" class="gm-button" href="#">导出 CSV</a>
    <a id="gm-xlsx" class="gm-button" href="#">导出 Excel</a>
  </form>
  <p id="gm-stats-note" class="gm-small"></p>
  <div id="gm-stats-charts" class="gm-charts"></div>
  <div class="gm-table-wrap"><table id="gm-stats-table" class="gm-list gm-stats-table"></table></div>
  <h2 class="gm-stats-more">其他统计</h2>
  <form id="gm-report-form" class="gm-filter">
    <select name="report" title="报表"></select>
    <select name="by" title="统计维度"></select>
    <label>月份 <input type="month" name="month"></label>
    <a id="gm-report-csv" class="gm-button" href="#">导出 CSV</a>
  </form>
  <p id="gm-report-note" class="gm-small"></p>
  <div class="gm-table-wrap"><table id="gm-report-table" class="gm-list gm-stats-table"></table></div>
</main>
<script src="/static/stats.js"></script>"""
    return chrome.document("统计分析", body, principal, "/desk/stats")


def register(principal: Principal) -> str:
    """The register search page: persons, dwellings (a building's, and one with its household
    and care tags), organisations, and the month's visits of the dwelling's grid — all from the
    API's register routes, so scope, masking and the audit are theirs
    (map_ui/static/register.js)."""
    config = {"identify": allows(principal.role, "person.identify"),
              "visits": allows(principal.role, "visit.read")}
    body = f"""
<main class="gm-register" data-config="{config_attr(config)}">
  <form id="gm-reg-form" class="gm-filter">
    <select name="kind"><option value="person">实有人口</option>
      <option value="organisation">实有单位</option><option value="building">实有房屋（楼栋编码）</option>
    </select>
    <input name="q" required maxlength="100" size="40"
           placeholder="姓名、身份证号、手机号或地址（到房号）">
    <button type="submit">查询</button>
  </form>
  <p class="gm-small">查询范围以本账号的管辖区域为限；身份证号、手机号按角色脱敏；
    每次查询均记录在审计日志中。</p>
  <p id="gm-reg-message" aria-live="polite"></p>
  <div class="gm-reg-cols">
    <section><div class="gm-table-wrap"><table id="gm-reg-results" class="gm-list"></table></div></section>
    <section id="gm-reg-detail" class="gm-reg-detail" hidden></section>
  </div>
</main>
<script src="/static/register.js"></script>"""
    return chrome.document("实有人口", body, principal, "/desk/register")


def tasks(principal: Principal, *, csrf: str | None, filters: dict, outlines: dict,
          categories: dict[str, str], basemap: tuple[str | None, str, str]) -> str:
    """Department task orders (下单到网格): place one by picking streets and communities or by
    drawing the area on the map, and follow its fan-out and completion per grid, coloured on
    the map (map_ui/static/tasks.js; the writes go to POST /v1/tasks)."""
    url, datum, attribution = basemap
    config = {"csrf": csrf, "may_create": allows(principal.role, "task.create"),
              "department": principal.department, "categories": categories,
              "streets": filters["streets"], "communities": filters["communities"],
              "outlines": outlines, "basemap": {"url": url, "datum": datum,
                                                "attribution": attribution}}
    body = f"""
<div class="gm-desk gm-tasks" data-config="{config_attr(config)}">
  <aside class="gm-queue">
    <p><button type="button" id="gm-new-task" class="gm-primary">新建任务（下单到网格）</button></p>
    <div id="gm-task-form" hidden></div>
    <p id="gm-task-answer" class="gm-answer" aria-live="polite"></p>
    <div class="gm-list-wrap"><table id="gm-task-list" class="gm-list">
      <thead><tr><th>任务</th><th>时限</th><th>网格</th><th>完成</th><th>超期</th></tr></thead>
      <tbody></tbody></table></div>
  </aside>
  <div id="gm-map" class="gm-desk-map"></div>
  <section id="gm-task-detail" class="gm-detail" hidden></section>
</div>
<script src="/static/tasks.js"></script>"""
    return chrome.document("部门任务", body, principal, "/desk/tasks", head=LEAFLET_HEAD,
                           body_class="gm-fill")


def addresses(principal: Principal, *, csrf: str | None) -> str:
    """The standard-address gazetteer (标准地址): search, change an address's parts and other
    names, remove one, add one — each confirmed, through ``/v1/addresses`` (scope, validation,
    audit and the rebuild of every process's gazetteer are the API's;
    map_ui/static/addresses.js)."""
    body = f"""
<main class="gm-register gm-addresses" data-config="{config_attr({'csrf': csrf})}">
  <form id="gm-addr-search" class="gm-filter">
    <select name="kind"><option value="">全部类型</option><option value="building">楼栋</option>
      <option value="compound">小区</option><option value="place">地点</option></select>
    <input name="q" maxlength="100" size="36" placeholder="地址、名称或别名中的文字">
    <button type="submit">查询</button>
    <button type="button" id="gm-addr-new">新增标准地址</button>
  </form>
  <p class="gm-small">修改以本账号的管辖范围为限，每次修改均记录在审计日志中，并即时用于地址匹配。</p>
  <p id="gm-addr-answer" class="gm-answer" aria-live="polite"></p>
  <div class="gm-reg-cols">
    <section><div class="gm-table-wrap"><table id="gm-addr-results" class="gm-list"></table></div></section>
    <section id="gm-addr-detail" class="gm-reg-detail" hidden></section>
  </div>
</main>
<script src="/static/addresses.js"></script>"""
    return chrome.document("标准地址", body, principal, "/desk/addresses")
