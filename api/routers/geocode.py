"""Address → building → grid (``GET /v1/geocode``) and the residents' lookup
(``GET /v1/resident/worker``): who is my grid worker, from an address or a phone's location."""

from __future__ import annotations

import math
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import PublicAccess
from api.errors import ApiError
from api.routers.locate import outside_error, to_point
from gis.gazetteer import CONFIDENT
from layers.locating.locators import Locator

router = APIRouter(prefix="/v1", tags=["geocode"])


def _candidates(locator: Locator, q: str, limit: int) -> tuple[dict, list[dict]]:
    if locator.gazetteer is None:
        return {}, []
    parsed, found = locator.gazetteer.search(q, limit=limit)
    out = []
    for entry, score in found:
        grid = locator.areas.get(entry.grid_code) if entry.grid_code else None
        out.append({
            "building": {"code": entry.code, "address": entry.address, "name": entry.name,
                         "kind": entry.kind},
            "grid": {"code": grid["code"], "name": grid["name"]} if grid else None,
            "location": {"lon": round(entry.lon, 7), "lat": round(entry.lat, 7)},
            "score": score,
            "confident": score >= CONFIDENT,
        })
    return parsed.as_dict(), out


@router.get("/geocode", summary="A Chinese address → candidate buildings and their grids")
async def geocode(
    request: Request,
    _: PublicAccess,
    q: Annotated[str, Query(min_length=1, max_length=200, description="the address, as typed")],
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict:
    locator = await run_in_threadpool(request.app.state.locators.active)
    parsed, candidates = _candidates(locator, q, limit)
    if not candidates:
        raise ApiError(404, "address_not_found", "no building or site matches this address; "
                       "check the road, compound and building number", "未找到该地址，请核对路名、"
                       "小区名和楼号", query=q, parsed=parsed)
    return {"query": q, "parsed": parsed, "candidates": candidates,
            "echo": {k: parsed[k] for k in ("unit", "room") if k in parsed}}


class RateLimiter:
    """A token bucket per client address: ``per_minute`` requests, bursts up to that many."""

    def __init__(self, per_minute: int):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                if len(self._buckets) > 100_000:  # forget idle clients
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/resident/worker", summary="For residents: my grid, my grid worker, the nearest "
                                        "reception room (网格员查询)")
async def resident_worker(
    request: Request,
    _: PublicAccess,
    address: Annotated[str | None, Query(max_length=200, description="home address")] = None,
    lon: Annotated[float | None, Query()] = None,
    lat: Annotated[float | None, Query()] = None,
    crs: Annotated[str, Query(description="default gcj02: what WeChat mini-programs send")] = "gcj02",
) -> dict:
    wait = request.app.state.resident_limiter.check(_client(request))
    if wait:
        raise ApiError(429, "rate_limited", f"too many requests; try again in {math.ceil(wait)} s",
                       "查询过于频繁，请稍后再试", headers={"Retry-After": str(math.ceil(wait))})
    locator = await run_in_threadpool(request.app.state.locators.active)
    matched = None
    if address:
        _parsed, candidates = _candidates(locator, address, 3)
        best = candidates[0] if candidates else None
        if best is None or not best["confident"] or best["grid"] is None:
            raise ApiError(404, "address_not_found", "the address was not recognised well enough; "
                           "add the road and building number, or share your location",
                           "未能准确识别该地址，请补充路名和楼号，或使用定位", suggestions=[
                               c["building"]["address"] for c in candidates])
        matched = {"address": best["building"]["address"], "score": best["score"]}
        lon_w, lat_w = best["location"]["lon"], best["location"]["lat"]
        g, _on_boundary = locator.index.locate_one(lon_w, lat_w)
    elif lon is not None and lat is not None:
        point = to_point(lon, lat, None, None, crs)
        lon_w, lat_w = point.lon, point.lat
        g, _on_boundary = locator.index.locate_one(lon_w, lat_w)
        if g < 0:
            raise outside_error(locator, point)
    else:
        raise ApiError(422, "missing_location", "send address=… or lon=…&lat=…",
                       "请输入地址或使用定位")
    answer = locator.grid_answer(g, False)
    worker = next((w for w in answer["workers"] if w["role"] in ("full_time", "part_time")), None)
    return {
        "grid": {"code": answer["grid"]["code"], "name": answer["grid"]["name"]},
        "community": answer["community"]["name"],
        "street": answer["street"]["name"],
        "worker": {"name": worker["name"], "phone_masked": worker["phone_masked"],
                   "role": worker["role"]} if worker else None,
        "nearest_reception_room": locator.nearest_room(lon_w, lat_w),
        "matched_address": matched,
        "location": {"lon": round(lon_w, 7), "lat": round(lat_w, 7)},
    }
