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
        with live_server(url) as base:
            yield base, token, grid.code, point.x, point.y


def _cases(base: str, token: str) -> list[dict]:
    request = urllib.request.Request(f"{base}/v1/cases?limit=200",
                                     headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


def test_a_report_made_offline_becomes_exactly_one_case_when_the_phone_is_back_online(field):
    from playwright.sync_api import sync_playwright

    base, token, grid, lon, lat = field
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True, locale="zh-CN", permissions=["geolocation"],
                                      geolocation={"longitude": lon, "latitude": lat})
        page = context.new_page()
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
        page.screenshot(path=str(SHOTS / "mobile_sent.png"))
        assert errors == [] and outside == []
        browser.close()
