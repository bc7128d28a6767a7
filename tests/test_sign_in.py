"""The pages' sign-in (probe issue 26, MEDIUM 6 and the LOW on throttling and cookies): a
server-side session behind the cookie, ended on sign-out and with the credential; no sign-in
from another site's form; failed sign-ins and unknown tokens throttled per client."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.security import SESSION_COOKIE
from layers.access import users
from layers.boundaries.areas import load_district_boundary
from layers.storage.db import session_scope
from tests.support import BOUNDARY, MONDAY_10, Clock, eventually, sign_in


@pytest.fixture
def app(db_url, engine):
    with session_scope(engine) as session:
        load_district_boundary(session, BOUNDARY)
    app = create_app(url=db_url)
    app.state.clock = Clock(MONDAY_10)
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _token(engine, name: str, role: str = "dispatcher") -> str:
    scope = "370811" if role == "worker" else None  # a worker's credential names its area
    with session_scope(engine) as session:
        return users.add(session, name, role, scope, now=MONDAY_10)[1]


def _signed_in(client) -> bool:
    """The cases map (staff only) shows, rather than sending the browser to sign in."""
    return client.get("/map/cases", follow_redirects=False).status_code == 200


# -- login CSRF ------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["/map/login", "/m/login"])
def test_a_sign_in_form_posted_from_another_site_signs_nobody_in(client, engine, page):
    token = _token(engine, "zhang", "worker" if page == "/m/login" else "dispatcher")
    r = client.post(page, data={"token": token}, headers={"Origin": "http://evil.example"},
                    follow_redirects=False)
    assert r.status_code == 403 and r.json()["code"] == "cross_site"
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize("page", ["/map/login", "/m/login"])
def test_a_sign_in_without_the_forms_own_token_signs_nobody_in(client, engine, page):
    # what a cross-site form looks like to a browser that sends no Origin: no login cookie
    token = _token(engine, "zhang", "worker" if page == "/m/login" else "dispatcher")
    r = client.post(page, data={"token": token}, follow_redirects=False)
    assert r.status_code == 303 and "failed=1" in r.headers["location"]
    assert SESSION_COOKIE not in r.cookies


def test_the_sign_in_form_is_accepted_from_the_sites_own_page(client, engine):
    r = sign_in(client, _token(engine, "zhang"), next_url="/map/cases")
    assert r.status_code == 303 and r.headers["location"] == "/map/cases"
    assert _signed_in(client)


def test_our_own_https_page_behind_a_proxy_that_ends_tls_may_sign_in(client, engine):
    import re

    token = _token(engine, "zhang")
    form = re.search(r"name='form_token' value='([^']*)'", client.get("/map/login").text).group(1)
    r = client.post("/map/login", data={"token": token, "form_token": form},
                    headers={"Origin": "https://testserver"}, follow_redirects=False)
    assert r.status_code == 303 and SESSION_COOKIE in r.cookies


# -- the cookie is a server-side session -----------------------------------------------------------
def test_the_cookie_holds_a_session_id_never_the_credential(client, engine):
    token = _token(engine, "zhang")
    r = sign_in(client, token)
    assert token not in r.headers["set-cookie"]
    cookie = r.cookies[SESSION_COOKIE]
    assert "httponly" in r.headers["set-cookie"].lower()
    with engine.connect() as conn:  # only its hash is stored
        assert conn.execute(text("SELECT count(*) FROM web_sessions WHERE id_hash = :c"),
                            {"c": cookie}).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM web_sessions")).scalar() == 1


def test_signing_out_ends_the_session_on_the_server_not_only_in_the_browser(app, client, engine):
    sign_in(client, _token(engine, "zhang"))
    stolen = client.cookies[SESSION_COOKIE]
    out = client.post("/map/logout", follow_redirects=False)
    assert out.status_code == 303 and not _signed_in(client)
    with TestClient(app, cookies={SESSION_COOKIE: stolen}) as other:
        assert eventually(lambda: not _signed_in(other))


def test_the_phone_page_signs_out_too(app, client, engine):
    sign_in(client, _token(engine, "li", "worker"), page="/m/login")
    assert "gm-token" not in client.get("/m/").text  # the worker's page, not the form
    stolen = client.cookies[SESSION_COOKIE]
    assert client.post("/m/logout", follow_redirects=False).status_code == 303
    with TestClient(app, cookies={SESSION_COOKIE: stolen}) as other:
        assert eventually(lambda: "gm-token" in other.get("/m/").text)


@pytest.mark.parametrize("change", ["disable", "rotate"])
def test_disabling_or_rotating_a_credential_ends_its_page_sessions(client, engine, change):
    sign_in(client, _token(engine, "zhang"))
    assert _signed_in(client)
    with session_scope(engine) as session:
        getattr(users, change)(session, "zhang", now=MONDAY_10)
    assert eventually(lambda: not _signed_in(client))


def test_enabling_a_credential_again_does_not_revive_its_old_sessions(client, engine):
    sign_in(client, _token(engine, "zhang"))
    with session_scope(engine) as session:
        users.disable(session, "zhang", now=MONDAY_10)
    assert eventually(lambda: not _signed_in(client))
    with session_scope(engine) as session:
        users.enable(session, "zhang")
    assert not _signed_in(client)


def test_a_session_ends_when_its_hours_are_over(app, client, engine):
    sign_in(client, _token(engine, "zhang"))
    app.state.clock.t += dt.timedelta(hours=app.state.settings.session_hours, seconds=1)
    assert not _signed_in(client)


def test_each_sign_in_starts_a_new_session_and_ends_the_one_before(app, client, engine):
    token = _token(engine, "zhang")
    client.cookies.set(SESSION_COOKIE, "planted-by-someone-else")
    first = sign_in(client, token).cookies[SESSION_COOKIE]
    assert first != "planted-by-someone-else"
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, first)
    assert sign_in(client, token).cookies[SESSION_COOKIE] != first
    with TestClient(app, cookies={SESSION_COOKIE: first}) as other:
        assert eventually(lambda: not _signed_in(other))


# -- throttling ------------------------------------------------------------------------------------
def test_failed_sign_ins_beyond_the_allowance_are_answered_429(app, client):
    allowance = app.state.settings.auth_failures_per_minute
    answers = [sign_in(client, "gm_wrong").status_code for _ in range(allowance + 1)]
    assert answers[:allowance] == [303] * allowance
    assert answers[-1] == 429


def test_a_throttled_client_cannot_sign_in_even_with_a_good_token(app, client, engine):
    token = _token(engine, "zhang")
    for _ in range(app.state.settings.auth_failures_per_minute + 1):
        sign_in(client, "gm_wrong")
    r = sign_in(client, token)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_unknown_tokens_beyond_the_allowance_are_answered_429(app, client, engine):
    allowance = app.state.settings.auth_failures_per_minute
    wrong = {"Authorization": "Bearer gm_guess"}
    answers = [client.get("/v1/me", headers=wrong).status_code for _ in range(allowance + 1)]
    assert answers == [401] * allowance + [429]
    # a known credential is not a guess: it still works from that address
    good = {"Authorization": f"Bearer {_token(engine, 'zhang')}"}
    assert client.get("/v1/me", headers=good).status_code == 200
