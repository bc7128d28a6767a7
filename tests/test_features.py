"""OGC API – Features, read by a real client: GDAL's OAPIF driver (what QGIS uses)."""

import json
import os
import shutil
import subprocess

import pytest

from layers.access import users
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.conftest import live_server, scratch_database
from tests.test_boundary import BOUNDARY

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is needed")


@pytest.fixture(scope="module")
def ogc(server_url, template_url):
    city = generate(BOUNDARY, scale=0.05)
    with scratch_database(server_url) as (url, engine):
        assert write_validated(engine, city).ok
        with session_scope(engine) as session:
            # a dispatcher reads every layer (cameras are not for workers)
            _user, token = users.add(session, "qgis", "dispatcher")
        with live_server(url) as base:
            yield base, token, city


def _ogr(base: str, token: str | None, *args: str, layer: str | None = None
         ) -> subprocess.CompletedProcess:
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}"} if token else None
    command = ["ogrinfo", "-ro", *args, f"OAPIF:{base}/ogc", *([layer] if layer else [])]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_gdal_lists_every_layer_as_a_collection(ogc):
    base, token, _city = ogc
    out = _ogr(base, token, "-so").stdout
    for layer in ("areas", "buildings", "roads", "alleys", "cameras", "sites"):
        assert f": {layer} (title:" in out


def test_gdal_reads_every_feature_of_a_layer_through_the_pages(ogc):
    base, token, city = ogc
    out = _ogr(base, token, "-q", layer="roads").stdout  # > 1,000: many pages
    assert out.count("OGRFeature(roads)") == len(city.layers["roads"]) > 1000


def test_items_page_with_bbox_and_next_links(ogc):
    import urllib.request

    base, token, city = ogc
    request = urllib.request.Request(f"{base}/ogc/collections/buildings/items?limit=5&bbox=116,35,117,36",
                                     headers={"Authorization": f"Bearer {token}"})
    body = json.load(urllib.request.urlopen(request))
    assert body["numberMatched"] == len(city.layers["buildings"]) and body["numberReturned"] == 5
    assert any(link["rel"] == "next" for link in body["links"])
    assert body["features"][0]["properties"]["address"]


def test_without_a_credential_gdal_is_refused(ogc):
    base, _token, _city = ogc
    assert _ogr(base, None, "-so").returncode != 0
