"""The planner's page in headless Chromium: sign in, paint a unit into another grid and see the
totals and validation change, split a grid, publish, and see /v1/locate answer the new grid."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import shapely

from layers.access import users
from layers.access.audit import cli_principal
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.planning import plans
from layers.storage.db import session_scope
from tests.conftest import eventually, live_server, scratch_database
from tests.test_boundary import BOUNDARY
from tests.test_browser import CHROMIUM, SHOTS
from tests.test_planning import _community_with_grids

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]


@pytest.fixture(scope="module")
def planning_site(server_url, template_url):
    city = generate(BOUNDARY, scale=0.05)
    community, pair = _community_with_grids(city)
    with scratch_database(server_url, pool_size=2) as (url, engine):
        assert write_validated(engine, city).ok
        with session_scope(engine) as session:
            token = users.add(session, "wang", "planner", community[:9])[1]
            plan_id = plans.create(session, name="兴东调整", area_code=community,
                                   by=cli_principal()).id
        with live_server(url) as base:
            yield base, token, plan_id, pair


@pytest.fixture
def page(planning_site):
    from playwright.sync_api import sync_playwright

    base = planning_site[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.errors, page.requests = [], []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("request", lambda r: page.requests.append(r.url))
        yield page
        assert page.errors == []
        assert [u for u in page.requests if not u.startswith(base) and not u.startswith("data:")] == []
        browser.close()


def _locate(base: str, lon: float, lat: float) -> str:
    with urllib.request.urlopen(f"{base}/v1/locate?lon={lon}&lat={lat}") as answer:
        return json.load(answer)["grid"]["code"]


def _sign_in(page, base, token, plan_id) -> None:
    page.goto(f"{base}/map/login?next=/map/plan/{plan_id}")
    page.fill("#gm-token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/map/plan/{plan_id}")
    page.wait_for_function("window.gridmapUnitsShown > 0 && window.gridmapValidation !== undefined")


def test_a_planner_draws_a_new_grid_free_hand_with_mouse_clicks(page, planning_site):
    base, token, plan_id, pair = planning_site
    a = pair.code.iloc[0]
    _sign_in(page, base, token, plan_id)
    request = urllib.request.Request(f"{base}/v1/plans/{plan_id}/units?area={a[:12]}",
                                     headers={"Authorization": f"Bearer {token}"})
    features = json.load(urllib.request.urlopen(request))["features"]
    # a triangle inside the largest unit of grid a that holds no building: it cuts no house
    empty = max((shapely.geometry.shape(f["geometry"]) for f in features
                 if f["properties"]["grid"] == a and not f["properties"]["buildings"]),
                key=lambda g: g.area)
    c = empty.buffer(-0.0002).representative_point()
    corners = [(c.x - 0.0002, c.y - 0.00015), (c.x + 0.0002, c.y - 0.00015), (c.x, c.y + 0.0002)]
    assert empty.contains(shapely.Polygon(corners))
    page.evaluate("(b) => window.gridmapMap.fitBounds([[b[1], b[0]], [b[3], b[2]]], {animate: false})",
                  list(shapely.Polygon(corners).buffer(0.003).bounds))
    page.fill("#gm-new-name", "新建小区网格")
    page.click("#gm-draw")
    for lon, lat in corners:
        x, y = page.evaluate("""([lon, lat]) => {
            var p = window.gridmapMap.latLngToContainerPoint([lat, lon]);
            var box = window.gridmapMap.getContainer().getBoundingClientRect();
            return [box.left + p.x, box.top + p.y]; }""", [lon, lat])
        page.mouse.click(x, y)
    assert "3 个拐点" in page.inner_text("#gm-message")
    page.click("#gm-finish")
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已新建网格') === 0")
    new_code = page.inner_text("#gm-message").split()[-1]
    assert new_code.startswith(a[:12]) and new_code not in set(pair.code)
    page.wait_for_selector(f".gm-grid-row[data-code='{new_code}']")
    page.wait_for_function("window.gridmapUnitLoads >= 2")  # the units, cut anew around it
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "plan_drawn.png"))
    grids = {g["code"]: g for g in json.load(urllib.request.urlopen(urllib.request.Request(
        f"{base}/v1/plans/{plan_id}", headers={"Authorization": f"Bearer {token}"})))["grids"]}
    drawn = grids[new_code]
    assert drawn["name"] == "新建小区网格" and drawn["households"] == 0
    report = page.evaluate("window.gridmapValidation")
    assert not any(p["kind"] in ("overlap", "gap", "building_split") for p in report["problems"])
    assert any(p["kind"] == "no_worker" and new_code in p["grids"] for p in report["problems"])


def test_a_planner_paints_splits_and_publishes_on_the_map(page, planning_site):
    base, token, plan_id, pair = planning_site
    a, b = pair.code.iloc[0], pair.code.iloc[1]
    _sign_in(page, base, token, plan_id)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "plan.png"))
    before = int(page.inner_text(f".gm-grid-row[data-code='{a}'] td:nth-child(2)"))

    # a unit of grid b along grid a's edge (painting a far one would make a in two pieces)
    request = urllib.request.Request(f"{base}/v1/plans/{plan_id}/units?area={a[:12]}",
                                     headers={"Authorization": f"Bearer {token}"})
    features = json.load(urllib.request.urlopen(request))["features"]
    grid_a = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in features
                                if f["properties"]["grid"] == a]).buffer(1e-7)
    def shared(f) -> float:
        return shapely.geometry.shape(f["geometry"]).boundary.intersection(grid_a).length

    along = [f for f in features if f["properties"]["grid"] == b and shared(f) > 1e-5]  # ≥ ~1 m
    target = max(along, key=lambda f: (f["properties"]["households"] > 0, shared(f)))
    # choose grid a in the panel, then click that unit on the map, as a planner would
    page.click(f".gm-grid-row[data-code='{a}']")
    unit, _x, _y, lon, lat = page.evaluate("""(id) => {
        var map = window.gridmapMap, found = null;
        window.gridmapUnitLayer.eachLayer(function (l) {
            if (l.feature.properties.id === id) { found = l; } });
        map.fitBounds(found.getBounds(), {animate: false, maxZoom: 18});
        var c = found.getCenter();
        var p = map.latLngToContainerPoint(c), box = map.getContainer().getBoundingClientRect();
        return [id, box.left + p.x, box.top + p.y, c.lng, c.lat]; }""", target["id"])
    page.wait_for_timeout(300)
    page.evaluate("([u, a]) => window.gridmapPaint(u, a)", [unit, a])
    page.wait_for_function("window.gridmapEdits >= 1")
    after = int(page.inner_text(f".gm-grid-row[data-code='{a}'] td:nth-child(2)"))
    assert after - before == target["properties"]["households"]
    assert "可以发布" in page.inner_text("#gm-validation") or "错误" in page.inner_text("#gm-validation")
    page.screenshot(path=str(SHOTS / "plan_painted.png"))

    # split grid b with a line across it
    _x0, y0, _x1, y1 = pair.geometry.iloc[1].bounds
    cx = pair.geometry.iloc[1].representative_point().x
    page.click(f".gm-grid-row[data-code='{b}']")
    page.evaluate("([p, q]) => window.gridmapSplit(p, q)", [[cx, y0 - 0.01], [cx, y1 + 0.01]])
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已分割') === 0")
    new_code = page.inner_text("#gm-message").split("、")[-1].strip()
    page.wait_for_selector(f".gm-grid-row[data-code='{new_code}']")
    page.screenshot(path=str(SHOTS / "plan_split.png"))

    # a line through houses splits buildings: then the page lists the errors and refuses to
    # publish; the planner merges the two halves back (over the API) and publishes
    report = page.evaluate("window.gridmapValidation")
    if not report["valid"]:
        assert any(p["kind"] == "building_split" for p in report["problems"])
        page.click("#gm-publish")
        page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('无法发布') >= 0")
        request = urllib.request.Request(
            f"{base}/v1/plans/{plan_id}/merge", method="POST",
            data=json.dumps({"grids": [b, new_code]}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        urllib.request.urlopen(request).read()
    page.click("#gm-publish")
    page.wait_for_function("window.gridmapPublished !== undefined || "
                           "document.getElementById('gm-message').textContent.indexOf('无法') >= 0")
    page.screenshot(path=str(SHOTS / "plan_published.png"))
    assert page.evaluate("window.gridmapPublished") == "active", page.inner_text("#gm-message")
    # the publish reaches the server's locator by NOTIFY and a rebuild beside the live one
    assert eventually(lambda: _locate(base, lon, lat) == a, 60), _locate(base, lon, lat)
