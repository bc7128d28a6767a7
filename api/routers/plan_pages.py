"""The planner's pages (/map/plans, /map/plan/{id}): HTML clients of /v1/plans, signed in with
the staff cookie. A signed-in user without the planner role is told what a plan link is and
what to do, instead of being sent back to the sign-in form; anyone else signs in first."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import RowId, SessionDep, allowed
from api.security import page_csrf
from layers.access.policy import allows
from layers.planning import plans
from layers.storage.models import UserRole
from map_ui import planning
from map_ui.pages import MapSettings

router = APIRouter(tags=["maps"])
PAGE = {303: {"description": "sign in first"},
        200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "a page"},
        403: {"content": {"text/html": {"schema": {"type": "string"}}},
              "description": "signed in without the planner role: what the link is"}}


def _settings(request: Request) -> MapSettings:
    s = request.app.state.settings
    return MapSettings(s.basemap_url, s.basemap_datum, s.basemap_attribution)


def _gate(request: Request, who, plan_id: int | None) -> Response | None:
    """Sign in first (the public); a page saying what this is to a signed-in user without the
    planner role; None when the page may be shown."""
    if who.role == UserRole.PUBLIC:
        return _sign_in(request)
    if not allows(who.role, "plan.write"):
        return HTMLResponse(planning.plan_link_explained(plan_id, who.name, who.role.value),
                            status_code=403, headers={"Cache-Control": "private, no-store"})
    return None


def _sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/map/login?next={quote(str(request.url.path))}", status_code=303)


def _page(body: str) -> HTMLResponse:
    return HTMLResponse(body, headers={"Cache-Control": "private, no-store", "Vary": "Cookie"})


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
    return _page(planning.plans_index(session, _settings(request), plans.list_plans(session, who),
                                      who.scope_code, csrf))


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
    return _page(planning.plan_page(session, _settings(request), plans.summary(plan), csrf))
