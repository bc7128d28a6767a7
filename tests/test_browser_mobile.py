"""The grid worker's phone page in headless Chromium, on a phone's viewport with its GPS: sign in,
see my grid and my position, report a case while offline, come back online — and exactly one
case exists, however often the queue is sent."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from layers.access import users
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.conftest import live_server, scratch_database
from tests.test_boundary import BOUNDARY
from tests.test_browser import CHROMIUM, SHOTS
from tests.test_cases import real_png

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]


@pytest.fixture(scope="module")
def field(server_url, template_url):
    city = generate(BOUNDARY, scale=0.05)
    areas = city.layers["areas"]
    grid = areas[(areas.level == "grid") & (areas.kind == "comprehensive")].iloc[3]
    point = grid.geometry.representative_point()
    with scratch_database(server_url, pool_size=2) as (url, engine):
        assert write_validated(engine, city).ok
        with session_scope(engine) as session:
            token = users.add(session, "网格员小王", "worker", grid.code)[1]
            department = users.add(session, "环保局", "department", department="生态环境局")[1]
        with live_server(url) as base:
            _post(base, department, "/v1/tasks", {
                "title": "排查餐饮油烟直排", "deadline": "2030-12-30T18:00:00+08:00",
                "area": [grid.code]})
            yield base, token, grid.code, point.x, point.y


def _post(base: str, token: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))


def _get(base: str, token: str, path: str) -> dict:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


def _phone(p, lon: float, lat: float):
    """Debian's Chromium as a phone (viewport, touch, zh-CN) standing at (lon, lat)."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"])
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, locale="zh-CN", permissions=["geolocation"],
                                  geolocation={"longitude": lon, "latitude": lat})
    return browser, context, context.new_page()


def _cases(base: str, token: str) -> list[dict]:
    request = urllib.request.Request(f"{base}/v1/cases?limit=200",
                                     headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


def test_a_report_made_offline_becomes_exactly_one_case_when_the_phone_is_back_online(field):
    from playwright.sync_api import sync_playwright

    base, token, grid, lon, lat = field
    with sync_playwright() as p:
        browser, context, page = _phone(p, lon, lat)
        errors, outside = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base)
                and not r.url.startswith("data:") else None)
        page.goto(f"{base}/m/")
        page.fill("#gm-token", token)
        page.click("button[type=submit]")
        page.wait_for_function("window.gridmapMobileReady === true")
        page.wait_for_function("document.getElementById('gm-m-position').textContent.indexOf('位置：') === 0")
        assert grid in page.inner_text("#gm-m-grid")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now the service worker controls the page and has cached it
        page.wait_for_function("window.gridmapMobileReady === true")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "mobile.png"))

        context.set_offline(True)
        page.reload()  # the page itself comes from the service worker's cache
        page.wait_for_function("window.gridmapMobileReady === true")
        assert page.inner_text("#gm-m-net") == "离线"
        page.fill("#gm-m-description", "离线上报：井盖缺失")
        page.set_input_files("#gm-m-photo", files=[{  # a photo from the phone's camera
            "name": "manhole.png", "mimeType": "image/png", "buffer": real_png()}])
        page.click("#gm-m-report")
        page.wait_for_function("window.gridmapQueued === 1")
        assert "联网后自动发送" in page.inner_text("#gm-m-message")
        page.screenshot(path=str(SHOTS / "mobile_offline.png"))
        assert [c for c in _cases(base, token) if c.get("description") == "离线上报：井盖缺失"] == []

        context.set_offline(False)
        page.evaluate("Promise.all([window.gridmapFlush(), window.gridmapFlush()])")  # a resend too
        page.wait_for_function("window.gridmapQueued === 0", timeout=20_000)
        mine = [c for c in _cases(base, token) if c.get("description") == "离线上报：井盖缺失"]
        assert len(mine) == 1 and mine[0]["grid_code"] == grid
        page.evaluate("Promise.all([window.gridmapFlush(), window.gridmapFlush()])")
        page.wait_for_function("window.gridmapQueued === 0", timeout=20_000)
        case = _get(base, token, f"/v1/cases/{mine[0]['id']}")
        assert len(case["photos"]) == 1 and case["photos"][0]["content_type"] == "image/jpeg"
        page.screenshot(path=str(SHOTS / "mobile_sent.png"))
        manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href)"
                                 ".then(r => r.json())")
        assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
        assert errors == [] and outside == []
        browser.close()


def test_on_the_phone_a_worker_accepts_a_task_and_records_a_patrol(field):
    """我的任务: the department's task is on the phone; 接收 moves it (through the same queue as
    reports). 每日巡查: start, walk, stop — the track is stored and measured."""
    import datetime as dt

    from playwright.sync_api import sync_playwright

    base, token, grid, lon, lat = field
    with sync_playwright() as p:
        browser, _context, page = _phone(p, lon, lat)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/m/")
        page.fill("#gm-token", token)
        page.click("button[type=submit]")
        page.wait_for_function("window.gridmapMobileReady === true")
        page.wait_for_selector("#gm-m-tasks button[data-action=accept]")
        assert "排查餐饮油烟直排" in page.inner_text("#gm-m-tasks")
        page.click("#gm-m-tasks button[data-action=accept]")
        page.wait_for_function("window.gridmapQueued === 0")
        mine = _get(base, token, "/v1/tasks/mine")["tasks"]
        assert [t["status"] for t in mine if t["title"] == "排查餐饮油烟直排"] == ["accepted"]

        page.click("#gm-m-patrol")  # 开始巡查
        start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        for i in range(12):  # a walk east, 12 m every 10 s
            page.evaluate("([x, y, t]) => window.gridmapPatrolPoint(x, y, t)",
                          [lon + i * 12 / 90_700, lat, (start + dt.timedelta(seconds=10 * i)).isoformat()])
        page.wait_for_function("window.gridmapPatrolPoints >= 12")
        page.screenshot(path=str(SHOTS / "mobile_patrol.png"))
        page.click("#gm-m-patrol")  # 结束巡查: queued and sent
        page.wait_for_function("window.gridmapQueued === 0", timeout=20_000)
        assert "巡查已上传" in page.inner_text("#gm-m-message")
        seen = _get(base, token, f"/v1/patrols/coverage?area={grid}&days=30")
        assert seen["patrols"] >= 1
        page.screenshot(path=str(SHOTS / "mobile_tasks.png"), full_page=True)
        assert errors == []
        browser.close()
