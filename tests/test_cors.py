"""Cross-origin requests (api/cors.py): any origin's page reads the public tiles and OGC
collections without a credential; origins listed in GRIDMAP_CORS_ORIGINS call everything with
credentials; preflights are answered. (A MapLibre page on another origin rendering the tiles in
Chromium: tests/test_browser_maplibre.py.)"""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gridmap.settings import Settings

PORTAL = "https://gis.example.gov.cn"
ELSEWHERE = "http://127.0.0.2:8080"
TILE = "/tiles/buildings/10/852/408.pbf"


@pytest.fixture
def client(db_url):
    with TestClient(create_app(Settings(cors_origins=[PORTAL]), url=db_url)) as client:
        yield client


def _preflight(client, path: str, origin: str, method: str = "GET", headers: str = ""):
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=sent)


def test_a_page_on_any_origin_reads_a_public_tile_without_credentials(client):
    answer = client.get(TILE, headers={"Origin": ELSEWHERE})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    assert answer.headers["etag"] and answer.headers["cache-control"] == "public, max-age=60"
    assert "ETag" in answer.headers["access-control-expose-headers"]


def test_tilejson_is_readable_from_any_origin(client):
    answer = client.get("/tiles/buildings.json", headers={"Origin": ELSEWHERE})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/ogc", "/ogc/collections/areas/items?limit=1"])
def test_ogc_answers_any_origin_as_it_answers_an_anonymous_caller(client, path):
    """OGC API Features needs a credential (docs/security.md): a foreign page reads the refusal,
    and only a listed origin's page may send the credential."""
    answer = client.get(path, headers={"Origin": ELSEWHERE})
    assert answer.status_code == 401 and answer.headers["access-control-allow-origin"] == "*"


def test_a_preflight_for_a_public_resource_is_answered_not_405(client):
    answer = _preflight(client, TILE, ELSEWHERE, headers="If-None-Match")
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "GET" in answer.headers["access-control-allow-methods"]


def test_a_page_on_an_unlisted_origin_may_not_send_a_credential(client):
    answer = _preflight(client, "/ogc/collections/buildings/items", ELSEWHERE,
                        headers="Authorization")
    assert answer.status_code == 403
    body = answer.json()
    assert "GRIDMAP_CORS_ORIGINS" in body["error"] and body["error_zh"]


def test_an_unlisted_origin_reads_nothing_else(client):
    answer = client.get("/v1/generations", headers={"Origin": ELSEWHERE})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    assert _preflight(client, "/v1/cases", ELSEWHERE, "POST").status_code == 403


def test_a_listed_origin_calls_any_route_with_credentials(client):
    answer = client.get("/v1/me", headers={"Origin": PORTAL})
    assert answer.headers["access-control-allow-origin"] == PORTAL
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in answer.headers["vary"]
    preflight = _preflight(client, "/v1/cases", PORTAL, "POST", "Authorization, Content-Type")
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == PORTAL
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_a_request_without_an_origin_carries_no_cors_headers(client):
    answer = client.get(TILE)
    assert not [h for h in answer.headers if h.startswith("access-control-")]


def test_an_origin_with_a_path_is_refused_at_start():
    with pytest.raises(ValueError, match="scheme://host"):
        Settings(cors_origins=["https://gis.example.gov.cn/maps"])
