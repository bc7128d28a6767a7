"""The planner's pages: the list of plans with a map to start one (/map/plans), the plan page
that does the whole job (/map/plan/{id}), and the page a signed-in user without the planner role
sees when a plan link is shared with them. Builders take data and return HTML; the pages are
clients of /v1/plans (map_ui/static/plan*.js, plans.js), so they can do nothing the API would not
let their user do. Each carries the shared staff header (map_ui/chrome.py): the map pages a
placeholder the router fills with the caller's header, the explanation a whole document."""

from __future__ import annotations

import html

import folium
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template
from sqlalchemy.orm import Session

from layers.access.policy import Principal
from layers.maps import queries
from map_ui import chrome
from map_ui.assets import STATIC_URL, add_script, base_map, js_value
from map_ui.chrome import ROLE_ZH
from map_ui.pages import MapSettings

STATUS_ZH = {"open": "编辑中", "published": "已发布", "discarded": "已放弃"}


# The plan page's script is its core (plan.js) and one file per concern; the core runs them
# in its own fixed order (its header says what each holds).
PLAN_PARTS = ["plan_context.js", "plan_edit.js", "plan_history.js", "plan_publish.js"]


class _Scripts(JSCSSMixin, MacroElement):
    """The pages' own scripts, loaded after Leaflet (VectorGrid needs it when it loads)."""

    _template = Template("")

    def __init__(self, scripts: list[str]):
        super().__init__()
        self._name = "PlanScripts"
        self.default_js = [("vectorgrid", f"{STATIC_URL}/vendor/vectorgrid/"
                                          "Leaflet.VectorGrid.bundled.min.js"),
                           ("gcj02", f"{STATIC_URL}/gcj02.js"),
                           ("plan_layout", f"{STATIC_URL}/plan_layout.js"),
                           *[(name, f"{STATIC_URL}/{name}") for name in scripts]]
        self.default_css = [("plan_css", f"{STATIC_URL}/plan.css")]


def _head(m: folium.Map, scripts: list[str]) -> None:
    m.get_root().html.add_child(Element(chrome.PLACEHOLDER))
    _Scripts(scripts).add_to(m)


def plans_index(session: Session, ms: MapSettings, plans: list[dict], scope: str | None,
                csrf: str) -> str:
    """Every plan of the planner's area (status, area, author, dates, scheduled or published),
    and a map of its streets and communities: click one to start a plan for it."""
    m = base_map(ms.bounds(queries.district_bounds(session)), basemap_url=ms.url,
                 basemap_attribution=ms.attribution, title="网格规划 · gridmap")
    _head(m, ["plans.js"])
    names = {code: name for level in ("street", "community")
             for code, name in _names(queries.outlines(session, level, scope=scope))}
    rows = "".join(_plan_row(p, names) for p in plans) or (
        "<tr><td colspan='6' class='gm-small'>还没有规划。在地图上点选一个社区或镇街，新建一个。</td></tr>")
    m.get_root().html.add_child(Element(f"""
<div class="gp-side" id="gp-side">
  <div class="gp-bar"><b>网格规划</b><span class="gp-grow"></span><a href="/docs#/planning">API</a></div>
  <section class="gp-section">
    <h2>新建规划</h2>
    <p class="gm-small">在地图上点选要调整的社区（或勾选“整个镇街”后点选镇街），填写名称后创建：
    规划是当前边界的一份草稿，发布前不影响任何人。</p>
    <label>范围 <input id="gp-area-name" readonly placeholder="在地图上点选"></label>
    <input id="gp-area" type="hidden">
    <label class="gp-inline"><input id="gp-street" type="checkbox"> 整个镇街</label>
    <label>名称 <input id="gp-name" maxlength="200" placeholder="例如：兴东社区网格调整"></label>
    <button id="gp-create" type="button" disabled>新建规划</button>
    <p id="gp-message" class="gp-message" aria-live="polite"></p>
  </section>
  <section class="gp-section gp-fill">
    <h2>规划列表</h2>
    <table class="gp-table" id="gp-plans">
      <tr><th>规划</th><th>范围</th><th>状态</th><th>创建</th><th>生效</th><th></th></tr>{rows}
    </table>
  </section>
</div>"""))
    config = {"csrf": csrf, "datum": ms.datum,
              "streets": ms.shift(queries.outlines(session, "street", scope=scope)),
              "communities": ms.shift(queries.outlines(session, "community", scope=scope))}
    add_script(m, f"gridmapPlansStart(map, {js_value(config)});")
    return m.get_root().render()


def _names(collection: dict) -> list[tuple[str, str]]:
    return [(f["properties"]["code"], f["properties"]["name"]) for f in collection["features"]]


def _plan_row(p: dict, names: dict[str, str]) -> str:
    status = STATUS_ZH.get(p["status"], p["status"])
    if p["scheduled"]:
        status = f"已排期（{p['generation']['effective_from']} 生效）"
    elif p["status"] == "published":
        status = f"已发布（{p['generation']['effective_from']} 起）"
    e = html.escape
    return (f"<tr class='gp-plan-row' data-id='{p['id']}'><td><a href='/map/plan/{p['id']}'>"
            f"{e(p['name'])}</a></td><td>{e(names.get(p['area'], p['area']))}</td>"
            f"<td class='gp-status-{e(p['status'])}'>{e(status)}</td>"
            f"<td>{e(p['created_by'])}<br><span class='gm-small'>{e(p['created_at'][:10])}</span></td>"
            f"<td>{e(p['generation']['effective_from'] or '—')}</td>"
            f"<td><a href='/v1/plans/{p['id']}/export.geojson'>导出</a>{_plan_button(p)}</td></tr>")


def _plan_button(p: dict) -> str:
    """A scheduled plan can be taken back to a draft (POST …/cancel), an open one discarded
    (DELETE): the plans page's own doors to those two routes (map_ui/static/plans.js)."""
    if p["scheduled"]:
        return f" <button type='button' class='gp-cancel' data-id='{p['id']}'>撤回排期</button>"
    if p["status"] == "open":
        return f" <button type='button' class='gp-discard' data-id='{p['id']}'>放弃</button>"
    return ""


def plan_page(session: Session, ms: MapSettings, plan: dict, csrf: str) -> str:
    """The plan page: paint units with a brush, split (with a preview line), merge, redraw, draw
    (clipped to the community), delete a grid and upload communities' grids (GeoJSON; both in
    plan_tools.js), workers per grid, minimal-change and ReCom suggestions with a preview,
    impact, publish through a dialog, undo/redo and the history; buildings, roads and alleys
    from gridmap's own vector tiles under the units; read-only once published."""
    m = base_map(ms.bounds(queries.district_bounds(session)), basemap_url=ms.url,
                 basemap_attribution=ms.attribution,
                 title=f"网格规划 · {html.escape(plan['name'])} · gridmap")
    _head(m, ["plan.js", *PLAN_PARTS, "plan_tools.js"])
    communities = queries.communities(session, plan["generation"]["id"], plan["area"])
    options = "".join(f"<option value='{html.escape(code)}'>{html.escape(name)}</option>"
                      for code, name in communities)
    m.get_root().html.add_child(Element(_PLAN_PANEL.format(
        name=html.escape(plan["name"]), options=options, id=plan["id"])))
    suffix = "?datum=gcj02" if ms.datum == "gcj02" else ""
    config = {"plan": {k: plan[k] for k in ("id", "name", "area", "status", "scheduled",
                                            "editable", "generation")},
              "csrf": csrf, "datum": ms.datum,
              "tiles": {layer: f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf{suffix}"
                        for layer in ("buildings", "roads", "alleys")}}
    add_script(m, f"gridmapPlanStart(map, {js_value(config)});")
    return m.get_root().render()


_PLAN_PANEL = """
<div class="gp-side" id="gm-panel">
  <div class="gp-bar">
    <a href="/map/plans" title="规划列表">规划</a> › <b id="gp-title">{name}</b>
    <span id="gp-badge" class="gp-badge"></span><span class="gp-grow"></span>
    <button id="gm-undo" type="button" title="撤销（Ctrl+Z）" disabled>↶ 撤销</button>
    <button id="gm-redo" type="button" title="重做（Ctrl+Y）" disabled>↷ 重做</button>
  </div>
  <div class="gp-bar gp-sub">
    <label>社区/村 <select id="gm-community">{options}</select></label>
    <span class="gp-grow"></span>
    <a id="gm-export" href="/v1/plans/{id}/export.geojson" download>导出 GeoJSON</a>
    <button id="gm-share" type="button">复制链接</button>
  </div>
  <div id="gm-mode" class="gp-mode" aria-live="polite"></div>
  <div class="gp-scroll">
    <section class="gp-section gp-tools" id="gm-tools">
      <div class="gp-buttons">
        <button id="gm-paint" type="button" class="gp-on"
                title="点选或拖动涂抹单元，划入当前网格">涂抹单元</button>
        <label class="gm-small">笔刷 <select id="gm-brush"><option value="0">单击单元</option>
          <option value="1">拖动涂抹</option><option value="40">半径 40 米</option>
          <option value="100">半径 100 米</option></select></label>
        <button id="gm-split" type="button">画分割线</button>
        <button id="gm-merge" type="button">合并网格</button>
        <button id="gm-redraw" type="button">重画边界</button>
        <button id="gm-draw" type="button">画新网格</button>
        <button id="gm-delete" type="button"
                title="删除当前网格（先说明其单元与住户的去向，可撤销）">删除网格</button>
        <button id="gm-finish" type="button" hidden>完成绘制</button>
        <button id="gm-cancel" type="button" hidden>取消（Esc）</button>
      </div>
      <p class="gm-small"><label>新网格名称
        <input id="gm-new-name" value="新网格" maxlength="200"></label></p>
      <details class="gp-upload" id="gm-upload-box"><summary>上传网格（GeoJSON）</summary>
        <p class="gm-small">桌面 GIS 中重画的社区/村整体上传：文件中出现的社区/村，其网格全部以文件为准
        （字段 code、name、parent_code、kind，与“导出 GeoJSON”相同）；任何一行有误则不作任何修改。</p>
        <label>坐标系 <select id="gm-upload-crs"><option value="wgs84">WGS84（GPS）</option>
          <option value="gcj02">GCJ-02（高德、腾讯）</option><option value="bd09">BD-09（百度）</option>
          <option value="cgcs2000">CGCS2000</option></select></label>
        <input id="gm-upload-file" type="file" accept=".geojson,.json,application/geo+json,application/json">
        <button id="gm-upload-next" type="button">检查并上传…</button>
        <div id="gm-upload-out" aria-live="polite"></div>
      </details>
    </section>
    <p id="gm-message" class="gp-message" aria-live="polite"></p>
    <section class="gp-section">
      <div class="gp-buttons"><span id="gm-current" class="gm-small"></span><span class="gp-grow"></span>
        <label class="gm-small"><input id="gm-deviation" type="checkbox"> 按户数偏差着色</label></div>
      <table class="gm-grids" id="gm-grids"></table>
    </section>
    <section class="gp-section" id="gm-workers-box"></section>
    <section class="gp-section" id="gm-balance-box">
      <h3>均衡建议</h3>
      <div class="gp-buttons">
        <button id="gm-rebalance" type="button"
                title="只调整超出标准的网格，尽量少动户数">最小调整（推荐）</button>
        <button id="gm-suggest" type="button" title="GerryChain ReCom：整体重新划分">整体重新划分</button>
      </div>
      <div id="gm-proposal"></div>
    </section>
    <section class="gp-section">
      <div class="gp-buttons">
        <button id="gm-impact" type="button">影响评估</button>
        <button id="gm-publish" type="button" class="gp-primary">发布…</button>
        <button id="gm-history-toggle" type="button">历史记录</button>
      </div>
      <div id="gm-impact-out" class="gm-small"></div>
      <div id="gm-history" hidden></div>
    </section>
  </div>
  <div id="gm-validation" class="gp-validation"></div>
</div>
<div id="gm-dialog" class="gp-dialog" hidden role="dialog" aria-modal="true"></div>
"""


def plan_link_explained(plan_id: int | None, who: Principal) -> str:
    """A shared plan link opened by a signed-in user who may not read plans: say what it is and
    what to do, instead of bouncing them to the sign-in form (under the shared header)."""
    e = html.escape
    next_url = f"/map/plan/{plan_id}" if plan_id else "/map/plans"
    body = (
        "<main class='gm-home' id='gp-explained'>"
        + (f"<h1>这是网格规划 #{plan_id} 的链接</h1>" if plan_id else "<h1>网格规划</h1>") +
        "<p>网格规划是网格边界调整的草稿，由区、街道网格中心的<b>规划员</b>编辑、审核和发布。"
        "查看和编辑规划需要规划员账号。</p>"
        f"<p>您当前以 <b>{e(who.name)}</b>（{ROLE_ZH[who.role]}）身份登录，该账号没有规划权限。</p>"
        "<ul><li>如需参与此次调整，请联系发送链接的规划员或网格中心；</li>"
        f"<li>如您有规划员凭证，<a href='/map/login?next={next_url}'>用规划员凭证重新登录</a>；</li>"
        "<li>规划发布后，新的网格可在 <a href='/map/coverage'>网格覆盖图</a> 查看。</li></ul>"
        "<p class='gm-small'>A plan link: reading plans needs the planner role; you are signed in "
        f"as {e(who.name)} ({e(who.role.value)}).</p></main>")
    return chrome.document("网格规划链接", body, who)
