"""The district's rules as pages: the case routing table (``/desk/routing``: which category goes
to whom — grid worker, specialist or department —, its time limit and duplicate radius) and the
worker assessment's weights (``/desk/weights``). Both are clients of the API's own routes
(``GET``/``PUT /v1/routing``, ``GET``/``PUT /v1/stats/workers/weights``), which validate, version
and audit; the pages read, edit, confirm and show the answer (map_ui/static/routing.js,
weights.js)."""

from __future__ import annotations

from layers.access.policy import Principal
from map_ui import chrome
from map_ui.desk import config_attr

HANDLER_ZH = {"grid": "网格员", "environment": "环保专员（无则网格员）",
              "safety": "安全生产专员（无则网格员）", "department": "职能部门"}
KIND_ZH = {"event": "事件", "component": "部件", "social": "社会治理"}
MEASURE_ZH = {"patrol": "巡查天数", "coverage": "道路覆盖", "cases": "案件按期办结",
              "tasks": "任务按期完成", "visits": "每月必访", "rating": "居民评价"}


def routing_page(principal: Principal, *, csrf: str | None) -> str:
    config = {"csrf": csrf, "handlers": HANDLER_ZH, "kinds": KIND_ZH}
    body = f"""
<main class="gm-rules" data-config="{config_attr(config)}">
  <h1>案件路由规则</h1>
  <p class="gm-small">每个案件类别由谁处置（网格员、专员或职能部门）、办理时限（工作小时）
    和重复上报的判定半径。保存后成为新版本，此后登记的案件按新版本分派；已登记的案件保留原版本。</p>
  <p id="gm-rules-version" class="gm-small"></p>
  <div class="gm-table-wrap"><table id="gm-routing" class="gm-list gm-rules-table"></table></div>
  <details class="gm-departments"><summary>职能部门</summary>
    <ul id="gm-departments" class="gm-plain"></ul>
    <p><input id="gm-dep-code" maxlength="20" size="6" placeholder="编码">
      <input id="gm-dep-name" maxlength="100" placeholder="部门名称">
      <button type="button" id="gm-dep-add">添加部门</button></p></details>
  <p><label>修改说明 <input id="gm-rules-note" maxlength="500" size="40"
    placeholder="如：暴露垃圾改由城市管理局处置"></label>
    <button type="button" id="gm-rules-next" class="gm-primary">保存为新版本</button></p>
  <div id="gm-rules-confirm" hidden></div>
  <div id="gm-rules-answer" class="gm-answer" aria-live="polite"></div>
</main>
<script src="/static/routing.js"></script>"""
    return chrome.document("路由规则", body, principal, "/desk/routing")


def weights_page(principal: Principal, *, csrf: str | None) -> str:
    config = {"csrf": csrf, "measures": MEASURE_ZH}
    body = f"""
<main class="gm-rules" data-config="{config_attr(config)}">
  <h1>网格员考核权重</h1>
  <p class="gm-small">每项指标先折算为 0–1 的比率，再按权重加权得分；各项权重合计须为 100%。
    保存后成为新版本，统计分析中的「网格员考核」按最新版本计算并注明版本。</p>
  <p id="gm-weights-version" class="gm-small"></p>
  <form id="gm-weights" class="gm-weights"></form>
  <p>合计 <b id="gm-weights-sum"></b></p>
  <p><label>修改说明 <input id="gm-weights-note" maxlength="500" size="40"></label>
    <button type="button" id="gm-weights-next" class="gm-primary">保存为新版本</button></p>
  <div id="gm-weights-confirm" hidden></div>
  <div id="gm-weights-answer" class="gm-answer" aria-live="polite"></div>
  <h2>历次版本</h2>
  <div class="gm-table-wrap"><table id="gm-weights-history" class="gm-list"></table></div>
</main>
<script src="/static/weights.js"></script>"""
    return chrome.document("考核权重", body, principal, "/desk/weights")
