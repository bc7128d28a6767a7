"""Address → building → grid (``GET /v1/geocode``), the address inside free text
(``POST /v1/geocode/extract``), working examples of the district (``GET /v1/geocode/examples``)
and the residents' lookup (``GET /v1/resident/worker``): who is my grid worker, from an address
or a phone's location. The answers are layers/locating/geocoding.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

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


class FreeText(BaseModel):
    text: str = Field(min_length=1, max_length=geocoding.MAX_TEXT,
                      description="a hotline note or a message with an address inside")
    limit: int = Field(default=5, ge=1, le=20)


@router.post("/geocode/extract", summary="The address inside a sentence, and which span was used")
async def extract(request: Request, _: allowed("geocode"), body: FreeText) -> dict:
    locator = await run_in_threadpool(request.app.state.locators.active)
    return await run_in_threadpool(geocoding.extract, locator, body.text, body.limit)


@router.get("/geocode/examples", summary="Addresses of the loaded district that answer "
                                         "confidently, one of each form (for placeholders)")
async def examples(request: Request, _: allowed("geocode")) -> dict:
    locator = await run_in_threadpool(request.app.state.locators.active)
    return geocoding.examples(locator)


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
