"""The planner's pages (/map/plans, /map/plan/{id}): HTML clients of /v1/plans, signed in with
the staff cookie. A signed-in user without the planner role is told what a plan link is and
what to do, instead of being sent back to the sign-in form; anyone else signs in first."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import RowId, SessionDep, allowed
from api.pages import gate, page, with_header
from api.security import page_csrf
from layers.access.policy import Principal, allows
from layers.planning import plans
from map_ui import planning
from map_ui.pages import MapSettings

router = APIRouter(tags=["maps"])
ACTION = "plan.read"  # the action of the header's 网格规划 link (map_ui/chrome.py)
PAGE = {303: {"description": "sign in first"},
        200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "a page"},
        403: {"content": {"text/html": {"schema": {"type": "string"}}},
              "description": "signed in without the planner role: what the link is"}}


def _settings(request: Request) -> MapSettings:
    s = request.app.state.settings
    return MapSettings(s.basemap_url, s.basemap_datum, s.basemap_attribution)


def _gate(request: Request, who: Principal, plan_id: int | None) -> Response | None:
    """None when the page may be shown; a signed-in user without the planner role is told what
    a plan link is (403, under the shared header); anyone else signs in first."""
    if who.signed_in and not allows(who.role, ACTION):
        return HTMLResponse(planning.plan_link_explained(plan_id, who), status_code=403,
                            headers={"Cache-Control": "private, no-store"})
    return gate(request, who, ACTION, "网格规划")


def _sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/map/login?next={quote(str(request.url.path))}", status_code=303)


@router.get("/map/plans", summary="The plans in the planner's area, and a map to start one",
            responses=PAGE, response_class=Response)
def plans_page(request: Request, session: SessionDep,
               who: allowed("map.public", cookie=True)) -> Response:
    refused = _gate(request, who, None)
    if refused is not None:
        return refused
    csrf = page_csrf(request)
    if csrf is None:  # the page's writes ride on the signed-in session
        return _sign_in(request)
    return page(with_header(planning.plans_index(
        session, _settings(request), plans.list_plans(session, who), who.scope_code, csrf),
        who, "/map/plans"))


@router.get("/map/plan/{plan_id}", summary="The planner's page for a plan (sign in first)",
            responses=PAGE, response_class=Response)
def plan_page(request: Request, plan_id: RowId, session: SessionDep,
              who: allowed("map.public", cookie=True)) -> Response:
    refused = _gate(request, who, plan_id)
    if refused is not None:
        return refused
    plan = plans.get(session, plan_id, who)  # 404, or 403 outside the planner's scope
    csrf = page_csrf(request)
    if csrf is None:  # the page's writes ride on the signed-in session
        return _sign_in(request)
    return page(with_header(planning.plan_page(session, _settings(request), plans.summary(plan),
                                               csrf), who, "/map/plans"))
