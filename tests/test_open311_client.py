"""Open311 GeoReport v2 read by a third-party client: ``georeport`` from PyPI (it reads services,
service definitions, requests and one request, in JSON and in XML; it cannot post), against a
live server; requests are posted as the specification says (form-encoded, ``api_key``)."""

from __future__ import annotations

import pytest
import requests
from georeport import GeoReport

from layers.access import users
from layers.storage.db import session_scope
from tests.support import live_server, scratch_database, small_city

pytestmark = pytest.mark.process  # a live server for a third-party client


@pytest.fixture(scope="module")
def endpoint(server_url, city_template):
    city = small_city()
    areas = city.layers["areas"]
    grid = areas[(areas.level == "grid") & (areas.kind == "comprehensive")].iloc[0]
    point = grid.geometry.representative_point()
    with scratch_database(server_url, template=city_template) as (url, engine):
        with session_scope(engine) as session:
            token = users.add(session, "公众号", "worker", "370811")[1]
        with live_server(url) as base:
            root = f"{base}/open311/v2"
            posted = requests.post(f"{root}/requests.json", data={  # the spec's form encoding
                "api_key": token, "service_code": "E0201", "lat": point.y, "long": point.x,
                "description": "电线杆上贴满小广告"}, timeout=30)
            assert posted.status_code == 200, posted.text
            yield root, token, posted.json()[0]["service_request_id"], point


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_the_services_and_a_definition(endpoint, fmt):
    root, _token, _rid, _point = endpoint
    client = GeoReport(root, output_format=fmt)
    services = client.get_service_list()
    codes = [s["service_code"] for s in services]
    assert "E0201" in codes and all(s["service_name"] for s in services)
    definition = client.get_service_definition("E0201")
    assert definition["service_code"] == "E0201"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_requests_and_one_request(endpoint, fmt):
    root, _token, rid, point = endpoint
    client = GeoReport(root, output_format=fmt)
    found = client.get_service_requests(status="open")
    found = found if isinstance(found, list) else [found]  # xmltodict: one element, no list
    assert rid in [r["service_request_id"] for r in found]
    one = client.get_service_request(rid)
    assert one["service_request_id"] == rid and one["service_code"] == "E0201"
    assert float(one["lat"]) == pytest.approx(point.y, abs=1e-6)
    assert float(one["long"]) == pytest.approx(point.x, abs=1e-6)


def test_a_request_posted_to_the_xml_endpoint_answers_in_xml_and_errors_too(endpoint):
    root, token, _rid, point = endpoint
    import xmltodict

    posted = requests.post(f"{root}/requests.xml", data={
        "api_key": token, "service_code": "E0201", "lat": point.y, "long": point.x,
        "description": "小广告（XML）"}, timeout=30)
    assert posted.status_code == 200 and posted.headers["content-type"].startswith("application/xml")
    rid = xmltodict.parse(posted.content)["service_requests"]["request"]["service_request_id"]
    assert GeoReport(root, output_format="xml").get_service_request(rid)["description"] == "小广告（XML）"
    missing = requests.get(f"{root}/requests/NOPE.xml", timeout=30)
    assert missing.status_code == 404
    error = xmltodict.parse(missing.content)["errors"]["error"]
    assert error["code"] == "404" and "NOPE" in error["description"]
    refused = requests.post(f"{root}/requests.xml", data={"service_code": "E0201"}, timeout=30)
    assert refused.status_code == 401 and xmltodict.parse(refused.content)["errors"]
