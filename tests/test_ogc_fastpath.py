"""OGC items paged by key (api/fastpath.py: ItemsFastPath) answer exactly what the route answers
— body, headers, compression — under the same policy and scope, and leave every other request to
the route."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.fastpath import ItemsFastPath
from layers.access import users
from layers.storage.db import session_scope
from tests.support import eventually, small_city

IGNORED = {"x-request-id"}


@pytest.fixture(scope="module")
def city():
    return small_city()


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def ogc(db_url, engine, city):
    tokens = {}
    with session_scope(engine) as session:
        tokens["dispatcher"] = users.add(session, "qgis", "dispatcher")[1]
        tokens["worker"] = users.add(session, "scoped", "worker", "370811008")[1]
    with TestClient(create_app(url=db_url)) as client:
        for token in tokens.values():  # each token known to the process, as after a first page
            client.get("/v1/me", headers=_auth(token))
        yield client, tokens


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def answered(monkeypatch):
    """Per request: did the fast path answer it itself."""
    calls = []
    original = ItemsFastPath._answer

    async def spy(self, scope):
        result = await original(self, scope)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(ItemsFastPath, "_answer", spy)
    return calls


def _routed(client, path: str, headers: dict, monkeypatch):
    async def never(self, scope):
        return None

    with monkeypatch.context() as m:
        m.setattr(ItemsFastPath, "_answer", never)
        return client.get(path, headers=headers)


def _same(fast, routed) -> None:
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    assert {k: v for k, v in fast.headers.items() if k not in IGNORED} == \
        {k: v for k, v in routed.headers.items() if k not in IGNORED}


def _pages(client, headers: dict, collection: str, limit: int):
    path = f"/ogc/collections/{collection}/items?limit={limit}"
    while path:
        body = client.get(path, headers=headers).json()
        yield path, body
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        path = nxt[0].removeprefix("http://testserver") if nxt else None


@pytest.mark.parametrize("collection", ["buildings", "sites", "roads", "areas"])
def test_every_page_after_the_first_is_the_route_s_answer_byte_for_byte(ogc, monkeypatch,
                                                                       answered, collection):
    client, tokens = ogc
    headers = _auth(tokens["dispatcher"])
    for checked, (path, _body) in enumerate(_pages(client, headers, collection, 13)):
        for encoding in ("gzip", "identity"):
            fast = client.get(path, headers={**headers, "Accept-Encoding": encoding})
            _same(fast, _routed(client, path, {**headers, "Accept-Encoding": encoding},
                                monkeypatch))
        if checked >= 6:
            break
    # the first page (it counts the total) went to the route; the ones after it did not
    assert answered[0] is False and any(answered)


def test_a_scoped_caller_s_pages_stay_in_their_scope(ogc, monkeypatch, answered):
    client, tokens = ogc
    headers = _auth(tokens["worker"])
    codes = []
    for path, body in _pages(client, headers, "buildings", 50):
        codes += [f["id"] for f in body["features"]]
        if "after=" in path:
            _same(client.get(path, headers=headers), _routed(client, path, headers, monkeypatch))
    everyone = [f["id"] for _p, b in _pages(client, _auth(tokens["dispatcher"]), "buildings", 500)
                for f in b["features"]]
    assert 0 < len(codes) < len(everyone) and set(codes) <= set(everyone)
    assert any(answered)


@pytest.mark.parametrize(("query", "token"), [
    ("limit=10", "dispatcher"),  # a first page: the route counts the total
    ("limit=10&after=BLD0000010&bbox=116,35,117,36", "dispatcher"),  # another parameter
    ("limit=0&after=BLD0000010", "dispatcher"),  # the route's 422
    ("limit=10&after=BLD%200010", "dispatcher"),  # not a plain key
    ("limit=10&after=BLD0000010", None),  # anonymous on a layer that needs a credential
    ("limit=10&after=BLD0000010", "unknown"),  # a token this process does not know
])
def test_what_the_fast_path_does_not_take_goes_to_the_route(ogc, answered, query, token):
    client, tokens = ogc
    headers = {} if token is None else _auth(tokens.get(token, "gm_not-a-token"))
    response = client.get(f"/ogc/collections/buildings/items?{query}", headers=headers)
    assert answered == [False]
    assert response.status_code in (200, 401, 422)


def test_a_layer_the_role_may_not_read_is_refused_by_the_route(ogc, answered):
    client, tokens = ogc
    response = client.get("/ogc/collections/cameras/items?limit=10&after=CAM0000001",
                          headers=_auth(tokens["worker"]))  # cameras are not for workers
    assert response.status_code == 403
    assert answered == [False]


def test_a_disabled_token_is_not_served_from_memory(ogc, engine, answered):

    client, tokens = ogc
    headers = _auth(tokens["dispatcher"])
    path = "/ogc/collections/buildings/items?limit=10&after=BLD0000010"
    assert client.get(path, headers=headers).status_code == 200 and answered[-1] is True
    with session_scope(engine) as session:
        users.disable(session, "qgis")
    assert eventually(lambda: client.get(path, headers=headers).status_code == 401)
    assert answered[-1] is False


def test_a_walk_at_gdal_s_page_size_takes_a_few_queries_and_every_page_is_the_route_s(
        ogc, monkeypatch, answered):
    client, tokens = ogc
    headers = _auth(tokens["dispatcher"])
    ahead = client.app.state.read_ahead
    ahead.ttl_s = 3600.0  # however slowly this machine walks: no wall clock in the count
    path, pages = "/ogc/collections/buildings/items?limit=10", 0
    while path:
        fast = client.get(path, headers=headers)
        if "after=" in path:
            _same(fast, _routed(client, path, headers, monkeypatch))
        nxt = [link["href"] for link in fast.json()["links"] if link["rel"] == "next"]
        path, pages = (nxt[0].removeprefix("http://testserver") if nxt else None), pages + 1
    assert pages > 50 and answered[0] is False and any(answered[1:])
    assert ahead.reads <= 5  # blocks of 100, 200, 400, 800, 1,000 rows: not a query a page


def test_an_import_s_notify_is_seen_on_the_next_page_however_long_blocks_live(ogc, engine,
                                                                              answered):
    client, tokens = ogc
    headers = _auth(tokens["dispatcher"])
    client.app.state.read_ahead.ttl_s = 3600.0  # only the NOTIFY can make a block stale
    path = "/ogc/collections/buildings/items?limit=10&after=BLD0000010"
    code = client.get(path, headers=headers).json()["features"][0]["id"]
    with session_scope(engine) as session:  # what an import writes, and tells at its commit
        session.execute(text("UPDATE buildings SET floors = 99 WHERE code = :code"),
                        {"code": code})
        session.execute(text("SELECT pg_notify('gridmap_data', 'import')"))
    assert eventually(lambda: client.get(path, headers=headers).json()
                      ["features"][0]["properties"]["floors"] == 99)
    assert answered[-1] is True  # read anew by the fast path, not answered by the route
