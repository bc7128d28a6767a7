"""The plan page's wholesale edits in headless Chromium (map_ui/static/plan_tools.js), each with
screenshots (tests/screenshots/plan_delete*.png, plan_upload*.png): a planner deletes a grid of
the draft after a dialog says what becomes of its units and households (a gap, until drawn into
another grid), and undoes it; a GeoJSON of a community's grids is uploaded — a file with a bad
row is refused with the API's row-by-row report and nothing changes, a good one replaces the
community's grids."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from layers.access import users
from layers.storage.db import session_scope
from tests.support import CHROMIUM, SHOTS, _community_with_grids, live_server, scratch_database, small_city

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]


@pytest.fixture(scope="module")
def site(server_url, city_template):
    city = small_city()
    community, pair = _community_with_grids(city)
    with scratch_database(server_url, pool_size=2, template=city_template) as (url, engine):
        with session_scope(engine) as session:
            token = users.add(session, "wang", "planner")[1]
        with live_server(url) as base:
            yield base, token, community, pair


def _call(site, method, path, body=None):
    base, token = site[0], site[1]
    request = urllib.request.Request(base + path, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def _grids(site, plan_id) -> dict[str, dict]:
    return {g["code"]: g for g in _call(site, "GET", f"/v1/plans/{plan_id}")["grids"]}


@pytest.fixture
def page(browser, site):
    """A fresh browser context per test (no cookies or storage carried over)."""
    base = site[0]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors, outside = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base)
            and not r.url.startswith("data:") else None)
    yield page
    context.close()
    assert errors == [] and outside == []


def _open(page, site, plan_id: int) -> None:
    base, token = site[0], site[1]
    page.goto(f"{base}/map/login?next=/map/plan/{plan_id}")
    page.fill("#gm-token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/map/plan/{plan_id}")
    page.wait_for_function("window.gridmapUnitsShown > 0 && window.gridmapValidation !== undefined")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _said(page) -> str:
    return page.inner_text("#gm-message")


def test_deleting_a_grid_says_its_units_become_a_gap_and_one_undo_brings_it_back(page, site):
    plan_id = _call(site, "POST", "/v1/plans", {"name": "删除网格", "area": site[2]})["id"]
    b = site[3].code.iloc[1]
    before = _grids(site, plan_id)[b]
    _open(page, site, plan_id)
    assert page.evaluate("window.gridmapValidation.valid")
    page.click(f".gm-grid-row[data-code='{b}']")
    page.click("#gm-delete")
    dialog = page.inner_text("#gm-dialog")
    assert f"{before['households']}</b> 户" not in dialog  # the numbers, not markup
    assert f"{before['households']} 户" in dialog and "个单元" in dialog
    assert "空隙" in dialog and "不能发布" in dialog and "可以撤销" in dialog
    assert "合并" in dialog  # the way to keep its households in a grid
    _shot(page, "plan_delete_confirm")
    assert b in _grids(site, plan_id)  # nothing happens before the confirmation

    page.click("#gm-delete-go")
    page.wait_for_function(f"window.gridmapPlanTools.deleted === {b!r}")
    page.wait_for_function(f"!document.querySelector(\".gm-grid-row[data-code='{b}']\")")
    assert b not in _grids(site, plan_id)
    assert "已删除网格" in _said(page)
    report = page.evaluate("window.gridmapValidation")
    assert not report["valid"] and "gap" in {p["kind"] for p in report["problems"]}
    assert "空隙" in page.inner_text("#gm-validation")
    _shot(page, "plan_deleted")

    page.click("#gm-undo")
    page.wait_for_function(f"!!document.querySelector(\".gm-grid-row[data-code='{b}']\")")
    assert _grids(site, plan_id)[b]["households"] == before["households"]


def test_deleting_can_be_turned_into_merging_with_a_neighbour(page, site):
    plan_id = _call(site, "POST", "/v1/plans", {"name": "改为合并", "area": site[2]})["id"]
    a, b = site[3].code.iloc[0], site[3].code.iloc[1]
    _open(page, site, plan_id)
    page.click(f".gm-grid-row[data-code='{a}']")
    page.click("#gm-delete")
    page.click("#gm-delete-merge")
    assert page.evaluate("window.gridmapMode") == {"name": "merge", "target": a}
    page.click(f".gm-grid-row[data-code='{b}']")
    page.wait_for_function("document.getElementById('gm-message').textContent.indexOf('已合并') === 0")
    assert b not in _grids(site, plan_id) and a in _grids(site, plan_id)


def _community_file(site, plan_id: int) -> dict:
    """The plan's grids of the community as the export gives them, in the upload's fields."""
    exported = _call(site, "GET", f"/v1/plans/{plan_id}/export.geojson")
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {k: f["properties"][k] for k in ("code", "name", "parent_code", "kind")}}
        for f in exported["features"] if f["properties"]["parent_code"] == site[2]]}


def test_an_upload_with_a_bad_row_is_refused_row_by_row_and_changes_nothing(page, site, tmp_path):
    plan_id = _call(site, "POST", "/v1/plans", {"name": "上传有误", "area": site[2]})["id"]
    collection = _community_file(site, plan_id)
    collection["features"][0]["properties"]["name"] = "改了名字"
    collection["features"][1]["properties"]["parent_code"] = "370811999999"  # no such community
    bad = tmp_path / "有误.geojson"
    bad.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    before = _grids(site, plan_id)
    _open(page, site, plan_id)
    page.click("#gm-upload-box summary")
    page.set_input_files("#gm-upload-file", str(bad))
    page.click("#gm-upload-next")
    page.wait_for_selector("#gm-upload-go")
    assert f"文件含 {len(collection['features'])} 个网格" in page.inner_text("#gm-dialog")
    page.click("#gm-upload-go")
    page.wait_for_function("window.gridmapPlanTools.refused !== null")
    out = page.inner_text("#gm-upload-out")
    assert "未上传" in out and "未作任何修改" in out and "第 2 行" in out and "370811999999" in out
    page.locator("#gm-upload-out").scroll_into_view_if_needed()
    _shot(page, "plan_upload_refused")
    after = _grids(site, plan_id)
    assert {c: (g["name"], g["version"]) for c, g in after.items()} == \
        {c: (g["name"], g["version"]) for c, g in before.items()}


def test_an_upload_replaces_the_grids_of_the_communities_it_names(page, site, tmp_path):
    plan_id = _call(site, "POST", "/v1/plans", {"name": "上传网格", "area": site[2]})["id"]
    collection = _community_file(site, plan_id)
    first = collection["features"][0]["properties"]
    first["name"] = "桌面GIS重画的网格"
    good = tmp_path / "社区网格.geojson"
    good.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    _open(page, site, plan_id)
    page.click("#gm-upload-box summary")
    page.set_input_files("#gm-upload-file", str(good))
    page.click("#gm-upload-next")
    page.wait_for_selector("#gm-upload-go")
    dialog = page.inner_text("#gm-dialog")
    assert site[2] in dialog and "全部以文件为准" in dialog
    _shot(page, "plan_upload_confirm")
    page.click("#gm-upload-go")
    page.wait_for_function("window.gridmapPlanTools.uploaded !== null")
    assert "已上传" in page.inner_text("#gm-upload-out")
    page.wait_for_function(f"document.querySelector(\".gm-grid-row[data-code='{first['code']}']\")"
                           ".textContent.indexOf('桌面GIS重画的网格') >= 0")
    assert _grids(site, plan_id)[first["code"]]["name"] == "桌面GIS重画的网格"
    _shot(page, "plan_uploaded")
