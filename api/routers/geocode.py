"""Address → building → grid (``GET /v1/geocode``) and the residents' lookup
(``GET /v1/resident/worker``): who is my grid worker, from an address or a phone's location.
The answers are layers/locating/geocoding.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import allowed
from layers.access.clients import client_address
from layers.locating import geocoding

router = APIRouter(prefix="/v1", tags=["geocode"])


@router.get("/geocode", summary="A Chinese address → candidate buildings and their grids")
async def geocode(
    request: Request,
    _: allowed("geocode"),
    q: Annotated[str, Query(min_length=1, max_length=200, description="the address, as typed")],
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict:
    locator = await run_in_threadpool(request.app.state.locators.active)
    return geocoding.geocode(locator, q, limit)


def _client(request: Request) -> str:
    """The real client, also behind a trusted reverse proxy (GRIDMAP_TRUSTED_PROXIES)."""
    return client_address(request.client.host if request.client else None,
                          request.headers.get("x-forwarded-for"),
                          request.app.state.settings.trusted_proxies)


@router.get("/resident/worker", summary="For residents: my grid, my grid worker, the nearest "
                                        "reception room (网格员查询)")
async def resident_worker(
    request: Request,
    _: allowed("resident.lookup"),
    address: Annotated[str | None, Query(max_length=200, description="home address")] = None,
    lon: Annotated[float | None, Query()] = None,
    lat: Annotated[float | None, Query()] = None,
    crs: Annotated[str, Query(description="default gcj02: what WeChat mini-programs send")] = "gcj02",
) -> dict:
    await run_in_threadpool(request.app.state.resident_limiter.take, _client(request))
    locator = await run_in_threadpool(request.app.state.locators.active)
    return geocoding.resident_worker(locator, address=address, lon=lon, lat=lat, crs=crs)
