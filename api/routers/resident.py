"""A resident reaching someone (``GET /v1/resident/contact``): the grid worker's work phone
behind a tap on the resident page, the community's reception room and the street's hotline.
Rate-limited per client (shared by every process) and audited; layers/locating/contact.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import SessionDep, allowed
from layers.access.clients import client_address
from layers.access.policy import Principal
from layers.locating import contact as contacts

router = APIRouter(prefix="/v1", tags=["geocode"])


@router.get("/resident/contact", summary="For residents: the grid worker's work phone (as the "
            "compound's public board shows it), the community's reception room with its hours "
            "and the street's hotline; rate-limited, each answer audited")
def resident_contact(
    request: Request, session: SessionDep, who: allowed("resident.contact"),
    grid: Annotated[str, Query(pattern=r"^\d{14,15}$", description="the grid's code, as "
                                                                      "/v1/resident/worker answers it")],
) -> JSONResponse:
    client = client_address(request.client.host if request.client else None,
                            request.headers.get("x-forwarded-for"),
                            request.app.state.settings.trusted_proxies)
    request.app.state.contact_limiter.take(client)
    caller = Principal(name=who.name, role=who.role, scope_code=who.scope_code, client=client)
    answer = contacts.contact(session, grid, by=caller)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
