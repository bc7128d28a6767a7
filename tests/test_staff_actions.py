"""Every staff action of the API has its page (map_ui/staff_actions.py), held against the app's
own route table and the access policy, and the docs show the same table."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import api_routes, create_app
from api.security import route_access
from layers.access.policy import allows, is_public
from map_ui import staff_actions
from map_ui.staff_actions import ACTIONS, WRITES, page_action, roles

DOCS = Path(__file__).resolve().parents[1] / "docs" / "maps.md"


@pytest.fixture(scope="module")
def route_actions(server_url, template_url) -> dict[tuple[str, str], str]:
    from tests.support import scratch_database

    with scratch_database(server_url) as (url, _engine):
        app = create_app(url=url)
    return {(method, route.path): route_access(route)[0]
            for route in api_routes(app.router.routes) for method in route.methods}


def staff_writes(route_actions) -> set[tuple[str, str]]:
    """Write routes whose action is not public, outside Open311 and OGC (other clients' doors)."""
    return {(method, path) for (method, path), action in route_actions.items()
            if method in WRITES and not is_public(action)
            and not path.startswith(("/open311", "/ogc"))}


def test_every_staff_write_route_of_the_app_has_a_row_in_the_table(route_actions):
    listed = {(a.method, a.path) for a in ACTIONS}
    missing = sorted(staff_writes(route_actions) - listed)
    assert missing == [], f"add these to map_ui/staff_actions.py ACTIONS: {missing}"


def test_every_row_names_a_staff_write_route_the_app_serves(route_actions):
    stale = sorted({(a.method, a.path) for a in ACTIONS} - staff_writes(route_actions))
    assert stale == []


def test_every_row_has_a_page_or_says_why_not_and_not_both():
    for a in ACTIONS:
        assert bool(a.pages) != bool(a.gap), (a.method, a.path)


def test_every_page_of_a_row_is_a_page_of_the_header_or_reached_from_one(route_actions):
    served = {path.replace("{plan_id}", "{id}") for (method, path) in route_actions
              if method == "GET"}
    for a in ACTIONS:
        for page in a.pages:
            assert page_action(page) is not None, f"{page} is in no header link"
            assert page in served, f"{page} is no page the app serves"


def test_every_role_the_policy_lets_act_may_enter_one_of_the_actions_pages(route_actions):
    for a in ACTIONS:
        if not a.pages:
            continue
        for role in roles(a, route_actions[(a.method, a.path)]):
            assert any(allows(role, page_action(p)) for p in a.pages), \
                f"{role.value} may {a.method} {a.path} but enter none of {a.pages}"


def test_a_gap_names_an_action_some_staff_role_may_take(route_actions):
    for a in ACTIONS:
        assert roles(a, route_actions[(a.method, a.path)]), (a.method, a.path)


def test_the_docs_show_the_table_as_the_code_holds_it(route_actions):
    text = DOCS.read_text(encoding="utf-8")
    assert "## Every staff action and its page" in text
    assert staff_actions.markdown(route_actions) in text


def test_a_new_write_route_without_a_row_is_found(route_actions):
    """The first check can fail: a staff write route nobody listed is reported."""
    grown = {**route_actions, ("POST", "/v1/cases/{case_id}/notes"): "case.create",
             ("POST", "/v1/locate/again"): "locate"}
    listed = {(a.method, a.path) for a in ACTIONS}
    assert staff_writes(grown) - listed == {("POST", "/v1/cases/{case_id}/notes")}
