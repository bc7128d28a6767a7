"""A MapLibre GL JS page on another origin renders gridmap's building tiles (CORS, TileJSON,
feature ids through promoteId), in Debian's headless Chromium. MapLibre 4.7.1 is vendored in
map_ui/static/vendor/maplibre/ (nothing is downloaded)."""

import functools
import http.server
import threading
from pathlib import Path

import pytest

from layers.storage.cluster import pick_free_port
from map_ui.assets import STATIC_DIR
from tests.support import CHROMIUM, SHOTS, live_server, scratch_database, small_city

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")]

PAGE = """<!doctype html><meta charset="utf-8"><title>another origin</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="maplibre-gl.css"><script src="maplibre-gl.js"></script>
<style>html,body,#map{margin:0;height:100%%}</style><div id="map"></div><script>
const map = new maplibregl.Map({container: "map", center: [%(lon)f, %(lat)f], zoom: 15,
  style: {version: 8, sources: {b: {type: "vector", url: "%(gridmap)s/tiles/buildings.json",
                                    promoteId: "id"}},
          layers: [{id: "bg", type: "background", paint: {"background-color": "#f8fafc"}},
                   {id: "b", type: "fill", source: "b", "source-layer": "buildings",
                    paint: {"fill-color": ["case", ["boolean", ["feature-state", "picked"], false],
                                           "#dc2626", "#92400e"], "fill-opacity": 0.8}}]}});
map.on("idle", () => {
  const found = map.querySourceFeatures("b", {sourceLayer: "buildings"});
  if (found.length && !window.picked) {
    window.picked = found[0].id;
    map.setFeatureState({source: "b", sourceLayer: "buildings", id: found[0].id}, {picked: true});
  }
  window.rendered = found.length;
});
map.on("error", e => { window.failed = String(e.error && e.error.message || e); });
</script>"""


@pytest.fixture(scope="module")
def gridmap(server_url, city_template):
    city = small_city()
    with scratch_database(server_url, template=city_template) as (url, _engine), live_server(url) as base:
        yield base, city


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory, gridmap):
    """Another origin (another port): a plain static server with the page and MapLibre."""
    base, city = gridmap
    folder = tmp_path_factory.mktemp("elsewhere")
    for name in ("maplibre-gl.js", "maplibre-gl.css"):
        (folder / name).write_bytes((STATIC_DIR / "vendor" / "maplibre" / name).read_bytes())
    p = city.layers["buildings"].geometry.iloc[0].representative_point()
    (folder / "index.html").write_text(PAGE % {"lon": p.x, "lat": p.y, "gridmap": base},
                                       encoding="utf-8")
    port = pick_free_port(19650)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_a_maplibre_page_on_another_origin_renders_gridmap_s_tiles(gridmap, elsewhere):
    from playwright.sync_api import sync_playwright

    base, _city = gridmap
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
            "--disable-quic", "--no-first-run", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 900, "height": 600})
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(elsewhere + "/index.html")
        page.wait_for_function("window.rendered > 0 || window.failed", timeout=60_000)
        assert page.evaluate("window.failed") is None, page.evaluate("window.failed")
        page.wait_for_timeout(500)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "maplibre_cross_origin.png"))
        picked = page.evaluate("window.picked")
        browser.close()
    assert isinstance(picked, int)  # a feature id MapLibre's feature-state can key on
    assert any(u.startswith(base + "/tiles/buildings/15/") for u in requests)
    assert errors == []
