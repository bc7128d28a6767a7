"""The planner's pages in headless Chromium, story by story, each with screenshots
(tests/screenshots/plan_*.png): a mode never changes its target silently (the redraw bug),
undo/redo from the keyboard, a brush stroke, the split preview, merge, workers, the minimal
rebalance previewed and applied, publishing through its dialog into a read-only page, the list
of plans and a new plan picked on the map, a plan link opened by a dispatcher, context tiles with
names, colours by neighbour and by deviation."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import shapely

from layers.access import users
from layers.storage.db import session_scope
from tests.support import (
    CHROMIUM,
    SHOTS,
    _community_with_grids,
    live_server,
    scratch_database,
    small_city,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]


@pytest.fixture(scope="module")
def planning_site(server_url, city_template):
    city = small_city()
    community, pair = _community_with_grids(city)
    overloaded = city.notes["overloaded"][0]
    with scratch_database(server_url, pool_size=2, template=city_template) as (url, engine):
        with session_scope(engine) as session:
            tokens = {"planner": users.add(session, "wang", "planner")[1],
                      "dispatcher": users.add(session, "li", "dispatcher")[1]}
        with live_server(url) as base:
            yield base, tokens, community, pair, overloaded


def _call(base, token, method, path, body=None):
    request = urllib.request.Request(base + path, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def _new_plan(site, area=None, name="兴东调整") -> int:
    base, tokens, community, _pair, _over = site
    return _call(base, tokens["planner"], "POST", "/v1/plans",
                 {"name": name, "area": area or community})["id"]


def _grids(site, plan_id) -> dict[str, dict]:
    base, tokens = site[0], site[1]
    return {g["code"]: g for g in _call(base, tokens["planner"], "GET", f"/v1/plans/{plan_id}")["grids"]}


@pytest.fixture
def page(browser, planning_site):
    """A fresh browser context per test (no cookies, storage or service worker carried over)."""
    base = planning_site[0]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.errors, page.requests = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    yield page
    context.close()
    assert page.errors == []
    assert [u for u in page.requests if not u.startswith(base) and not u.startswith("data:")] == []


def _sign_in(page, base, token, target) -> None:
    page.goto(f"{base}/map/login?next={target}")
    page.fill("#gm-token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")


def _open(page, site, plan_id) -> None:
    _sign_in(page, site[0], site[1]["planner"], f"/map/plan/{plan_id}")
    page.wait_for_function("window.gridmapUnitsShown > 0 && window.gridmapValidation !== undefined")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _screen(page, lon: float, lat: float) -> tuple[float, float]:
    return page.evaluate("""([lon, lat]) => {
        var p = window.gridmapMap.latLngToContainerPoint([lat, lon]);
        var box = window.gridmapMap.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y]; }""", [lon, lat])


def _fit(page, geom) -> None:
    x0, y0, x1, y1 = geom.bounds
    page.evaluate("(b) => { window.gridmapMap.fitBounds([[b[1], b[0]], [b[3], b[2]]], "
                  "{animate: false, paddingBottomRight: [440, 20]}); }", [x0, y0, x1, y1])
    page.wait_for_timeout(200)


def _households(page, code) -> int:
    return int(page.inner_text(f".gm-grid-row[data-code='{code}'] td:nth-child(2)"))


def test_redrawing_keeps_its_grid_when_another_row_is_clicked(page, planning_site):
    plan_id = _new_plan(planning_site)
    _community, pair = planning_site[2], planning_site[3]
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    before = _grids(planning_site, plan_id)
    _open(page, planning_site, plan_id)
    outline = pair.geometry.iloc[0].simplify(0.0002)
    outline = outline.geoms[0] if outline.geom_type == "MultiPolygon" else outline
    _fit(page, outline)
    page.click(f".gm-grid-row[data-code='{a}']")
    page.click("#gm-redraw")
    page.click(f".gm-grid-row[data-code='{b}']")  # the click that used to switch the target
    _shot(page, "plan_redraw_target")
    for lon, lat in list(outline.exterior.coords)[:-1]:
        page.mouse.click(*_screen(page, lon, lat))
    page.click("#gm-finish")
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已重画网格') === 0")
    assert a in page.inner_text("#gm-message")
    after = _grids(planning_site, plan_id)
    assert after[b]["households"] == before[b]["households"]  # the other grid was not replaced
    assert after[a]["version"] > before[a]["version"]


def _neighbouring_unit(site, plan_id, community, a):
    """A unit of a neighbour of grid ``a`` along a's edge, with households (b, the unit)."""
    b = _grids(site, plan_id)[a]["neighbours"][0]
    features = _call(site[0], site[1]["planner"], "GET",
                     f"/v1/plans/{plan_id}/units?area={community}")["features"]
    grid_a = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in features
                                if f["properties"]["grid"] == a]).buffer(1e-7)
    return b, max((f for f in features if f["properties"]["grid"] == b
                   and shapely.geometry.shape(f["geometry"]).intersects(grid_a)),
                  key=lambda f: f["properties"]["households"])


def test_undo_and_redo_from_the_keyboard_bring_the_numbers_back(page, planning_site):
    a = planning_site[4]
    plan_id = _new_plan(planning_site, a[:12], "撤销")
    _b, unit = _neighbouring_unit(planning_site, plan_id, a[:12], a)
    assert unit["properties"]["households"] > 0
    _open(page, planning_site, plan_id)
    before = _households(page, a)
    page.evaluate("([u, a]) => window.gridmapPaint(u, a)", [unit["id"], a])
    page.wait_for_function("window.gridmapEdits >= 1 && window.gridmapHistory.undo")
    painted = _households(page, a)
    assert painted == before + unit["properties"]["households"]
    tooltip = page.evaluate("""(id) => { var text = null; window.gridmapUnitLayer.eachLayer(function (l) {
        if (l.feature.properties.id === id) { text = l.getTooltip()._content(l); } }); return text; }""",
                            unit["id"])
    assert f"网格 {a[12:]}" in tooltip  # the unit's tooltip names its new grid, not the old one
    page.keyboard.press("Control+z")
    cell = f".gm-grid-row[data-code='{a}'] td:nth-child(2)"
    page.wait_for_function(f"document.querySelector(\"{cell}\").textContent === '{before}'")
    assert "已撤销：划入单元" in page.inner_text("#gm-message")
    page.keyboard.press("Control+y")
    page.wait_for_function(f"document.querySelector(\"{cell}\").textContent === '{painted}'")
    assert "已重做：划入单元" in page.inner_text("#gm-message")
    _shot(page, "plan_undo_redo")


def test_a_brush_stroke_paints_several_units_as_one_edit(page, planning_site):
    plan_id = _new_plan(planning_site)
    community, pair = planning_site[2], planning_site[3]
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    _open(page, planning_site, plan_id)
    features = _call(planning_site[0], planning_site[1]["planner"], "GET",
                     f"/v1/plans/{plan_id}/units?area={community}")["features"]
    shapes = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in features}
    grid_a = shapely.union_all([shapes[f["id"]] for f in features
                                if f["properties"]["grid"] == a]).buffer(1e-7)
    edge = [f["id"] for f in features if f["properties"]["grid"] == b and shapes[f["id"]].intersects(grid_a)]
    stroke = [shapes[i].representative_point() for i in edge[:3]]
    _fit(page, shapely.MultiPoint(stroke).buffer(0.002))
    page.click(f".gm-grid-row[data-code='{a}']")
    page.select_option("#gm-brush", "1")
    page.mouse.move(*_screen(page, stroke[0].x, stroke[0].y))
    page.mouse.down()
    for point in stroke[1:]:
        page.mouse.move(*_screen(page, point.x, point.y), steps=8)
    page.mouse.up()
    page.wait_for_function("window.gridmapEdits >= 1")
    _shot(page, "plan_brush")
    entries = _call(planning_site[0], planning_site[1]["planner"], "GET", f"/v1/plans/{plan_id}/history")
    assert [e["action"] for e in entries] == ["create", "assign"]
    assert len(entries[-1]["detail"]["units"]) >= 2  # several units, one entry (one undo)


def test_the_split_line_is_previewed_before_the_second_click(page, planning_site):
    plan_id = _new_plan(planning_site)
    pair = planning_site[3]
    b = pair.code.iloc[1]
    geom = pair.geometry.iloc[1]
    _open(page, planning_site, plan_id)
    _fit(page, geom.buffer(0.002))
    _x0, y0, _x1, y1 = geom.bounds
    cx = geom.representative_point().x
    page.click(f".gm-grid-row[data-code='{b}']")
    page.click("#gm-split")
    assert "分割网格" in page.inner_text("#gm-mode") and b[12:] in page.inner_text("#gm-mode")
    page.mouse.click(*_screen(page, cx, y0 - 0.0005))
    page.mouse.move(*_screen(page, cx, y1 + 0.0005), steps=5)
    assert page.evaluate("document.querySelectorAll('.leaflet-gp-preview-pane path').length") >= 1
    _shot(page, "plan_split_preview")
    page.mouse.click(*_screen(page, cx, y1 + 0.0005))
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已分割') === 0")
    new_code = b[:12] + page.inner_text("#gm-message").split("、")[-1].strip()
    page.wait_for_selector(f".gm-grid-row[data-code='{new_code}']")
    _shot(page, "plan_split")


def test_merging_takes_the_next_grid_clicked_and_keeps_the_first(page, planning_site):
    plan_id = _new_plan(planning_site)
    pair = planning_site[3]
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    _open(page, planning_site, plan_id)
    page.click(f".gm-grid-row[data-code='{a}']")
    page.click("#gm-merge")
    page.click(f".gm-grid-row[data-code='{b}']")
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已合并') === 0")
    page.wait_for_function(f"!document.querySelector(\".gm-grid-row[data-code='{b}']\")")
    assert b not in _grids(planning_site, plan_id)
    _shot(page, "plan_merged")


def test_a_worker_is_planned_into_a_grid_from_the_panel(page, planning_site):
    plan_id = _new_plan(planning_site)
    pair = planning_site[3]
    a = pair.code.iloc[0]
    _open(page, planning_site, plan_id)
    page.click(f".gm-grid-row[data-code='{a}']")
    page.wait_for_selector("#gm-worker-pick option:nth-child(2)", state="attached")
    before = [w["code"] for w in _grids(planning_site, plan_id)[a]["workers"]]
    choice = page.evaluate("""() => Array.from(document.querySelectorAll('#gm-worker-pick option'))
        .map(o => o.value).filter(v => v)""")
    worker = next(c for c in choice if c not in before)
    page.select_option("#gm-worker-pick", worker)
    page.select_option("#gm-worker-role", "part_time")
    page.click("#gm-worker-add")
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已更新网格') === 0")
    assert worker in [w["code"] for w in _grids(planning_site, plan_id)[a]["workers"]]
    _shot(page, "plan_workers")


def test_the_minimal_rebalance_is_previewed_on_the_map_and_applied_in_one_step(page, planning_site):
    overloaded = planning_site[4]
    plan_id = _new_plan(planning_site, overloaded[:12], "超标网格调整")
    _open(page, planning_site, plan_id)
    assert _households(page, overloaded) > 500
    page.click("#gm-rebalance")
    page.wait_for_function("window.gridmapProposal && document.getElementById('gm-proposal-apply')")
    proposal = page.evaluate("window.gridmapProposal")
    assert proposal["impact"]["grids_out_of_norm_after"] == 0
    assert page.evaluate("document.querySelectorAll('.leaflet-gp-preview-pane path').length") >= 2
    _shot(page, "plan_rebalance_preview")
    page.click("#gm-proposal-apply")
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已应用建议') === 0")
    cell = f".gm-grid-row[data-code='{overloaded}'] td:nth-child(2)"
    page.wait_for_function(f"document.querySelector(\"{cell}\").textContent * 1 <= 500")
    assert not [p for p in page.evaluate("window.gridmapValidation")["problems"]
                if p["kind"] == "households_out_of_norm"]
    _shot(page, "plan_rebalanced")


def test_publishing_goes_through_a_dialog_and_leaves_the_page_read_only(page, planning_site):
    plan_id = _new_plan(planning_site)
    pair = planning_site[3]
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    _call(planning_site[0], planning_site[1]["planner"], "POST", f"/v1/plans/{plan_id}/merge",
          {"grids": [a, b]})
    _open(page, planning_site, plan_id)
    page.click("#gm-history-toggle")
    page.wait_for_selector("#gm-history button[data-entry]")
    page.click("#gm-publish")
    page.wait_for_selector("#gm-dialog:not([hidden]) #gm-effective")
    assert "变动建筑" in page.inner_text("#gm-dialog")
    _shot(page, "plan_publish_dialog")
    page.click("#gm-publish-confirm")
    page.wait_for_function("window.gridmapPublished !== undefined || "
                           "document.getElementById('gm-publish-issues').textContent.indexOf('不能') >= 0")
    assert page.evaluate("window.gridmapPublished") == "active", page.inner_text("#gm-dialog")
    assert page.evaluate("window.gridmapEditable") is False
    assert not page.is_visible("#gm-tools") and not page.is_visible("#gm-publish")
    assert page.inner_text("#gp-badge") == "已发布 · 只读" and "只读" in page.inner_text("#gm-validation")
    page.wait_for_function("!document.querySelector('#gm-history button[data-entry]')")  # no restore
    assert "合并网格" in page.inner_text("#gm-history")  # the history stays readable
    _shot(page, "plan_published")
    page.reload()
    page.wait_for_function("window.gridmapReady")
    assert not page.is_visible("#gm-tools")


def test_a_plan_with_errors_says_so_in_the_publish_dialog_before_anything_is_confirmed(
        page, planning_site):
    a = planning_site[4]  # a grid of a community with many
    plan_id = _new_plan(planning_site, a[:12], "删去一个网格")
    _call(planning_site[0], planning_site[1]["planner"], "DELETE", f"/v1/plans/{plan_id}/grids/{a}")
    _open(page, planning_site, plan_id)  # a gap where the grid was: an error
    page.click("#gm-publish")
    page.wait_for_selector("#gm-dialog:not([hidden]) #gm-publish-confirm")
    assert "改正后才能发布" in page.inner_text("#gm-publish-issues")
    assert page.is_disabled("#gm-publish-confirm")
    _shot(page, "plan_publish_blocked")


def test_the_plans_page_lists_plans_and_starts_one_for_a_community_picked_on_the_map(page, planning_site):
    base, tokens, community = planning_site[0], planning_site[1], planning_site[2]
    existing = _new_plan(planning_site, name="已有规划")
    _sign_in(page, base, tokens["planner"], "/map/plans")
    assert page.is_visible(f".gp-plan-row[data-id='{existing}']")
    page.evaluate("(c) => window.gridmapPick(c)", community)
    assert community in page.input_value("#gp-area-name")
    page.fill("#gp-name", "地图上新建的规划")
    _shot(page, "plan_list")
    page.click("#gp-create")
    page.wait_for_url("**/map/plan/*")
    page.wait_for_function("window.gridmapUnitsShown > 0")
    assert "地图上新建的规划" in page.inner_text("#gp-title")


def test_a_dispatcher_opening_a_plan_link_is_told_what_it_is(page, planning_site):
    base, tokens = planning_site[0], planning_site[1]
    plan_id = _new_plan(planning_site)
    page.goto(f"{base}/map/login?next=/map/cases")
    page.fill("#gm-token", tokens["dispatcher"])
    page.click("button[type=submit]")
    page.wait_for_url("**/map/cases")
    answer = page.goto(f"{base}/map/plan/{plan_id}")
    assert answer.status == 403 and page.url.endswith(f"/map/plan/{plan_id}")  # not bounced
    text = page.inner_text("#gp-explained")
    assert f"规划 #{plan_id}" in text and "规划员" in text and "li" in text and "调度员" in text
    # under the shared header: the dispatcher's own pages, no link to plans
    assert "li · 调度员" in page.inner_text(".gm-header .gm-who")
    links = page.eval_on_selector_all(".gm-header nav a", "as => as.map(a => a.pathname)")
    assert "/desk" in links and "/map/plans" not in links
    _shot(page, "plan_link_dispatcher")


@pytest.mark.parametrize("size", [(1400, 900), (390, 844)], ids=["pc", "phone"])
def test_the_plan_pages_carry_the_shared_header_and_keep_the_validation_panel_in_view(
        page, planning_site, size):
    base, tokens = planning_site[0], planning_site[1]
    page.set_viewport_size({"width": size[0], "height": size[1]})
    _sign_in(page, base, tokens["planner"], "/map/plans")
    assert "网格规划" in page.inner_text(".gm-header nav a[aria-current]")
    assert "wang · 规划员" in page.inner_text(".gm-header .gm-who")
    _below_header(page, "#gp-side", sheet=size[0] < 800)
    _shot(page, f"plan_list_header_{'pc' if size[0] > 800 else 'phone'}")
    _open(page, planning_site, _new_plan(planning_site, name="带页头的规划"))
    assert "网格规划" in page.inner_text(".gm-header nav a[aria-current]")
    _below_header(page, "#gm-panel", sheet=size[0] < 800)
    box = page.locator("#gm-validation").bounding_box()
    assert box["height"] > 20 and box["y"] + box["height"] <= size[1] + 1  # in view, not below
    _shot(page, f"plan_header_{'pc' if size[0] > 800 else 'phone'}")


def _below_header(page, panel: str, sheet: bool = False) -> None:
    """The map starts where the header ends (not under it), and so does the side panel; on a
    phone the panel is a sheet at the foot of the screen instead."""
    header = page.locator(".gm-header").bounding_box()
    assert header["y"] == 0 and header["height"] > 30
    assert abs(page.locator(".folium-map").bounding_box()["y"] - header["height"]) <= 1
    box = page.locator(panel).bounding_box()
    if sheet:
        assert box["y"] > header["height"] + 100
        assert abs(box["y"] + box["height"] - page.viewport_size["height"]) <= 1
    else:
        assert abs(box["y"] - header["height"]) <= 1


def test_on_a_phone_the_panel_is_a_sheet_under_the_map_and_every_button_is_reachable(
        page, planning_site):
    page.set_viewport_size({"width": 360, "height": 740})
    plan_id = _new_plan(planning_site, name="手机上的规划")
    _open(page, planning_site, plan_id)
    header = page.locator(".gm-header").bounding_box()
    panel = page.locator("#gm-panel").bounding_box()
    units = page.evaluate("""() => { var b = window.gridmapUnitLayer.getBounds(), m = window.gridmapMap;
        var nw = m.latLngToContainerPoint(b.getNorthWest()), se = m.latLngToContainerPoint(b.getSouthEast());
        var box = m.getContainer().getBoundingClientRect();
        return {top: box.top + nw.y, bottom: box.top + se.y,
                left: box.left + nw.x, right: box.left + se.x}; }""")
    assert panel["y"] - header["height"] >= 0.4 * 740  # the map keeps the upper half or more
    assert units["top"] >= header["height"] - 1 and units["bottom"] <= panel["y"] + 1  # fitted above
    assert units["left"] >= -1 and units["right"] <= 361
    _shot(page, "plan_phone")
    for button in ("#gm-undo", "#gm-split", "#gm-merge", "#gm-redraw", "#gm-rebalance", "#gm-publish",
                   "#gm-history-toggle"):
        page.locator(button).scroll_into_view_if_needed()
        box = page.locator(button).bounding_box()
        assert box["y"] >= panel["y"] and box["y"] + box["height"] <= 740, button
        on_top = page.evaluate("""(s) => { var e = document.querySelector(s), r = e.getBoundingClientRect();
            return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === e; }""", button)
        assert on_top, button
    validation = page.locator("#gm-validation").bounding_box()
    assert validation["height"] > 20 and validation["y"] + validation["height"] <= 741
    page.click("#gm-publish")
    page.wait_for_selector("#gm-dialog:not([hidden]) #gm-publish-confirm")
    confirm = page.locator("#gm-publish-confirm").bounding_box()
    assert confirm["x"] + confirm["width"] <= 360 and confirm["y"] + confirm["height"] <= 740
    _shot(page, "plan_phone_publish")
    page.click("#gm-publish-cancel")


def test_context_and_colours_buildings_roads_names_neighbours_differ_and_deviation(page, planning_site):
    overloaded = planning_site[4]
    plan_id = _new_plan(planning_site, overloaded[:12], "看图")
    _open(page, planning_site, plan_id)
    grids = _grids(planning_site, plan_id)
    assert all(grids[a]["colour"] != grids[b]["colour"] for a in grids for b in grids[a]["neighbours"])
    page.evaluate("(c) => { window.gridmapMap.setView([c[1], c[0]], 17, {animate: false}); }",
                  list(_grid_centre(planning_site, overloaded)))
    for kind in ("roads", "buildings"):  # names of roads and lanes, households of buildings
        page.wait_for_function(f"document.querySelectorAll('.gp-label-{kind}').length > 0",
                               timeout=20_000)
    assert "户" in page.inner_text(".gp-label-buildings")
    assert page.evaluate("document.querySelectorAll('.leaflet-gp-context-pane canvas').length") > 0
    _shot(page, "plan_context")
    page.check("#gm-deviation")
    swatch = page.eval_on_selector(f".gm-grid-row[data-code='{overloaded}'] .gp-swatch",
                                   "e => getComputedStyle(e).backgroundColor")
    assert swatch == "rgb(185, 28, 28)"  # far over the norm: deep red
    page.evaluate("() => { window.gridmapMap.fitBounds(window.gridmapUnitLayer.getBounds(), "
                  "{animate: false, paddingBottomRight: [440, 20]}); }")
    _shot(page, "plan_deviation")
    box = page.eval_on_selector("#gm-validation", "e => e.getBoundingClientRect().bottom")
    assert box <= 900  # the validation stays in view at the foot of the panel


def _grid_centre(site, code) -> tuple[float, float]:
    plan_id = _new_plan(site, code[:12], "取中心")
    features = _call(site[0], site[1]["planner"], "GET",
                     f"/v1/plans/{plan_id}/units?area={code[:12]}")["features"]
    point = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in features
                               if f["properties"]["grid"] == code]).representative_point()
    return point.x, point.y


def test_publishing_over_a_scheduled_plan_asks_what_to_do_with_it_in_the_dialog(page, planning_site):
    base, tokens, _community, _pair, a = planning_site
    later = _new_plan(planning_site, a[:12], "下月调整")  # a community no other test publishes
    b = _grids(planning_site, later)[a]["neighbours"][0]
    _call(base, tokens["planner"], "POST", f"/v1/plans/{later}/merge", {"grids": [a, b]})
    day = _call(base, tokens["planner"], "POST", f"/v1/plans/{later}/publish",
                {"effective_from": "2099-01-01"})["generation"]["effective_from"]
    now = _new_plan(planning_site, a[:12], "本月调整")
    _call(base, tokens["planner"], "PUT", f"/v1/plans/{now}/grids/{a}/workers", {"workers": []})
    _open(page, planning_site, now)
    page.click("#gm-publish")
    page.wait_for_selector("#gm-dialog:not([hidden]) #gm-effective")
    page.click("#gm-publish-confirm")
    page.wait_for_selector(f"input[name='gm-s{later}'][value='cancel']")
    assert f"规划 #{later}" in page.inner_text("#gm-publish-issues") and day in page.inner_text("#gm-dialog")
    _shot(page, "plan_publish_conflict")
    page.check(f"input[name='gm-s{later}'][value='cancel']")
    page.click("#gm-publish-confirm")
    page.wait_for_function("window.gridmapPublished !== undefined")
    assert page.evaluate("window.gridmapPublished") == "active"
    again = _call(base, tokens["planner"], "GET", f"/v1/plans/{later}")
    assert again["status"] == "open" and not again["scheduled"]  # back to a draft, nothing lost


def test_the_plans_page_discards_an_open_plan_and_takes_a_scheduled_one_back_to_a_draft(
        page, planning_site):
    base, tokens, _community, _pair, a = planning_site
    doomed = _new_plan(planning_site, name="不再需要的规划")
    later = _new_plan(planning_site, a[:12], "明年调整")  # as the scheduled-conflict story does
    b = _grids(planning_site, later)[a]["neighbours"][0]
    _call(base, tokens["planner"], "POST", f"/v1/plans/{later}/merge", {"grids": [a, b]})
    _call(base, tokens["planner"], "POST", f"/v1/plans/{later}/publish",
          {"effective_from": "2099-01-01"})
    _sign_in(page, base, tokens["planner"], "/map/plans")
    asked = []
    page.on("dialog", lambda d: (asked.append(d.message), d.accept()))

    page.click(f".gp-discard[data-id='{doomed}']")
    row = page.locator(f".gp-plan-row[data-id='{doomed}']")
    page.wait_for_function(f"!document.querySelector(\".gp-discard[data-id='{doomed}']\")")
    assert "不再需要的规划" in asked[0] and "已放弃" in row.inner_text()
    assert _call(base, tokens["planner"], "GET", f"/v1/plans/{doomed}")["status"] == "discarded"

    page.click(f".gp-cancel[data-id='{later}']")
    page.wait_for_function(f"!document.querySelector(\".gp-cancel[data-id='{later}']\")")
    assert "撤回" in asked[1] and "已撤回排期" in page.inner_text("#gp-message")
    _shot(page, "plan_list_cancelled")
    again = _call(base, tokens["planner"], "GET", f"/v1/plans/{later}")
    assert again["status"] == "open" and not again["scheduled"]
