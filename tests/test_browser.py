"""The map pages in a real headless Chromium (Debian's), against a running gridmap on a demo
city: features render, popups show the right worker, the locator finds a typed address, nothing
is requested from outside localhost, no console errors. Screenshots go to tests/screenshots/."""

from pathlib import Path

import pytest

from layers.access import users
from layers.demo.case_history import load as load_history
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import BOUNDARY, CHROMIUM, SHOTS, live_server, scratch_database

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]


@pytest.fixture(scope="module")
def site(server_url, template_url):
    city = generate(BOUNDARY, scale=0.1)
    with scratch_database(server_url) as (url, engine):
        assert write_validated(engine, city).ok
        load_history(engine, scale=0.01)
        with session_scope(engine) as session:
            _user, token = users.add(session, "duty", "dispatcher")
        with live_server(url, GRIDMAP_WARM_MAPS="1") as base:
            yield base, city, token


@pytest.fixture
def page(browser, site):
    base, _city, _token = site
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.base = base
    yield page
    outside = [u for u in page.requests if not u.startswith(base) and not u.startswith("data:")]
    assert outside == [], "requests left localhost"
    assert page.errors == []
    context.close()


def _sign_in(page, site) -> None:
    """A dispatcher signs in on the login page, as on the duty desk (the cookie stays)."""
    base, _city, token = site
    page.goto(base + "/map/login?next=/map/cases")
    page.fill("#gm-token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/map/cases")


def _open(page, path: str, shot: str) -> None:
    page.goto(page.base + path, wait_until="load")
    page.wait_for_function("document.querySelector('.leaflet-container') !== null")
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{shot}.png"))


def test_coverage_map_draws_every_grid_and_the_legend(page, site):
    _base, city, _token = site
    _sign_in(page, site)
    _open(page, "/map/coverage", "coverage")
    areas = city.layers["areas"]
    assert page.evaluate("window.gridmapGridCount") == int((areas.level == "grid").sum())
    assert page.evaluate("Object.keys(window.gridmapGridLayer._layers).length") == int(
        (areas.level == "grid").sum())
    assert "背街小巷监控覆盖率" in page.inner_text(".gm-legend")


def test_clicking_a_grid_opens_its_worker_popup(page, site):
    _base, city, _token = site
    _open(page, "/map/coverage", "coverage_popup")
    code, x, y = page.evaluate("""(() => {
        var layers = window.gridmapGridLayer.getLayers();
        var layer = layers.find(l => l.feature.properties.kind === 'comprehensive');
        var map = layer._map;
        map.fitBounds(layer.getBounds(), {animate: false});
        var p = map.latLngToContainerPoint(layer.getCenter());
        var box = map.getContainer().getBoundingClientRect();
        return [layer.feature.properties.code, box.left + p.x, box.top + p.y]; })()""")
    page.wait_for_timeout(300)
    page.mouse.click(x, y)  # a real click, as a dispatcher would
    page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(400)  # let the popup finish fading in for the screenshot
    text = page.inner_text(".leaflet-popup-content")
    workers = city.workers
    expected = workers[workers.grid_codes.str.split(";").str[0].eq(code)
                       & workers.role.isin(["full_time", "part_time"])].name.iloc[0]
    assert code in text and expected in text
    page.screenshot(path=str(SHOTS / "coverage_popup.png"))


def test_workload_colouring(page):
    _open(page, "/map/coverage?colour=workload", "coverage_workload")
    assert "每名网格员户数" in page.inner_text(".gm-legend")


def test_the_public_coverage_map_shows_grids_and_reception_rooms_only(page):
    _open(page, "/map/coverage", "coverage_public")
    control = page.inner_text(".leaflet-control-layers")
    assert "网格" in control and "网格会客厅" in control
    assert "摄像头视域" not in control and "监控盲区" not in control


def test_the_cases_map_asks_for_a_sign_in_first(page, site):
    page.goto(page.base + "/map/cases")
    assert "/map/login" in page.url and page.locator("#gm-token").count() == 1
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "login.png"))


def test_cases_map_clusters_cases_and_filters(page, site):
    _sign_in(page, site)
    _open(page, "/map/cases?period=365", "cases")
    total = page.evaluate("window.gridmapCaseCount")
    assert total > 100
    assert page.locator(".gm-cluster").count() > 0  # clusters in a neutral colour
    _open(page, "/map/cases?period=365&category=E0501", "cases_filtered")
    assert 0 < page.evaluate("window.gridmapCaseCount") < total


def test_the_locator_finds_a_typed_address_and_shows_the_worker(page, site):
    _base, city, _token = site
    b = city.layers["buildings"]
    building = b[b.compound.notna()].iloc[0]
    _open(page, "/map/locate", "locate")
    page.fill("#gm-address", building["name"])
    page.click("#gm-form button")
    page.wait_for_selector(".gm-worker")
    page.wait_for_function("window.gridmapShown !== undefined")
    assert page.evaluate("window.gridmapMap.getZoom()") >= 14  # zoomed to the grid
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "locate_result.png"))
    card = page.inner_text("#gm-result")
    assert "网格员" in card and "****" in card and building["address"] in card


def test_the_locator_uses_the_phones_location(browser, site):
    base, city, _token = site
    grids = city.layers["areas"].query("level == 'grid' and kind == 'comprehensive'")
    inside = grids.geometry.iloc[0].representative_point()
    context = browser.new_context(geolocation={"longitude": inside.x, "latitude": inside.y},
                                  permissions=["geolocation"], locale="zh-CN")
    page = context.new_page()
    page.goto(base + "/map/locate")
    page.click("#gm-here")
    page.wait_for_selector(".gm-worker")
    assert grids.name.iloc[0] in page.inner_text("#gm-result")
    page.wait_for_function(f"window.gridmapShown === {grids.code.iloc[0]!r}")
    assert page.evaluate("window.gridmapMap.getZoom()") >= 14
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "locate_here.png"))
    context.close()


def _resident_phone(browser, base: str):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/map/locate")
    page.wait_for_selector("#gm-address")
    return context, page, errors


def test_the_resident_pages_example_is_an_address_of_the_district_that_works(browser, site):
    base, _city, _token = site
    context, page, errors = _resident_phone(browser, base)
    example = page.get_attribute("#gm-address", "placeholder").split("：", 1)[1]
    page.fill("#gm-address", example)
    page.click("#gm-form button")
    page.wait_for_function("window.gridmapShown !== undefined")
    assert example in page.inner_text("#gm-result")  # the name as stored, matched
    assert errors == []
    context.close()


def test_a_resident_taps_to_call_the_worker_and_sees_the_map_and_the_reception_room(browser, site):
    """On a phone the card is a sheet below the map: the grid, the address and the reception
    room stay in view; the distance is a straight line and says so; the work phone comes on a
    tap (rate-limited, audited), with the reception room's hours and the street's hotline."""
    base, city, _token = site
    b = city.layers["buildings"]
    building = b[b.compound.notna()].iloc[3]
    context, page, errors = _resident_phone(browser, base)
    page.fill("#gm-address", building["address"])
    page.click("#gm-form button")
    page.wait_for_function("window.gridmapShown !== undefined")
    assert "直线" in page.inner_text("#gm-result") and "非步行路线" in page.inner_text("#gm-result")
    sheet = page.locator("#gm-panel").bounding_box()
    assert sheet["y"] > 200  # below the map, not over it
    room = page.evaluate("""(() => { var m = window.gridmapMap, found = null;
        m.eachLayer(function (l) { if (l.getTooltip && l.getTooltip() && l.options.color === '#047857'
            && l.getLatLng) { found = m.latLngToContainerPoint(l.getLatLng()); } });
        return found && [found.x, found.y]; })()""")
    assert room is not None and 0 <= room[0] <= 390 and 44 <= room[1] <= sheet["y"]
    page.click("#gm-reveal")
    page.wait_for_function("window.gridmapContact !== undefined")
    card = page.inner_text("#gm-contact")
    assert "开放时间" in card and "服务热线" in card
    phone = page.evaluate("window.gridmapContact.worker.phone")
    assert phone in card and len(phone) == 11
    page.screenshot(path=str(SHOTS / "locate_phone.png"))
    assert errors == []
    context.close()


def test_the_residents_candidates_are_buttons_that_find_the_building(browser, site):
    base, city, _token = site
    b = city.layers["buildings"]
    compound = b[b.compound.notna()].iloc[5]["compound"]
    context, page, _errors = _resident_phone(browser, base)
    page.fill("#gm-address", compound[:-1])  # half a compound's name: not confident
    page.click("#gm-form button")
    page.wait_for_selector(".gm-candidate")
    choice = page.locator(".gm-candidate").first
    address = choice.get_attribute("data-address")
    page.screenshot(path=str(SHOTS / "locate_candidates.png"))
    choice.click()
    page.wait_for_function("window.gridmapShown !== undefined")
    assert address in page.inner_text("#gm-result")
    context.close()
