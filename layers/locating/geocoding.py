"""Address → building → grid, and the residents' question "who is my grid worker?", answered from
the active locator's gazetteer and index (no database on the hot path)."""

from __future__ import annotations

from gis.gazetteer import CONFIDENT
from gis.points import to_point
from layers.errors import DomainError
from layers.locating.locators import Locator, MissingLocation, grid_worker


class AddressNotFound(DomainError):
    code = "address_not_found"


def candidates(locator: Locator, q: str, limit: int) -> tuple[dict, list[dict]]:
    """The parsed address and the best buildings/sites for it, each with its grid and score."""
    if locator.gazetteer is None:
        return {}, []
    parsed, found = locator.gazetteer.search(q, limit=limit)
    out = []
    for entry, score in found:
        code = entry.grid_code
        if code is None and entry.kind == "interpolated":  # a point between door plates
            g, _ = locator.index.locate_one(entry.lon, entry.lat)
            code = str(locator.index.codes[g]) if g >= 0 else None
        grid = locator.areas.get(code) if code else None
        out.append({
            "building": {"code": entry.code, "address": entry.address, "name": entry.name,
                         "kind": entry.kind},
            "grid": {"code": grid["code"], "name": grid["name"]} if grid else None,
            **({"grids": list(entry.grids)} if entry.grids else {}),
            "location": {"lon": round(entry.lon, 7), "lat": round(entry.lat, 7)},
            "score": score,
            "confident": score >= CONFIDENT,
        })
    return parsed.as_dict(), out


def geocode(locator: Locator, q: str, limit: int) -> dict:
    parsed, found = candidates(locator, q, limit)
    if not found:
        raise AddressNotFound("no building or site matches this address; check the road, compound "
                              "and building number", zh="未找到该地址，请核对路名、小区名和楼号",
                              query=q, parsed=parsed)
    return {"query": q, "parsed": parsed, "candidates": found,
            "echo": {k: parsed[k] for k in ("unit", "room") if k in parsed}}


def resident_worker(locator: Locator, *, address: str | None, lon: float | None,
                    lat: float | None, crs: str) -> dict:
    """A resident's grid, grid worker (phone masked) and nearest reception room, from a home
    address (only when the match is confident) or a phone's location."""
    matched = None
    if address:
        _parsed, found = candidates(locator, address, 3)
        best = found[0] if found else None
        if best is None or not best["confident"] or best["grid"] is None:
            raise AddressNotFound("the address was not recognised well enough; add the road and "
                                  "building number, or share your location",
                                  zh="未能准确识别该地址，请补充路名和楼号，或使用定位",
                                  suggestions=[c["building"]["address"] for c in found])
        matched = {"address": best["building"]["address"], "score": best["score"]}
        lon_w, lat_w = best["location"]["lon"], best["location"]["lat"]
        g, _on_boundary = locator.index.locate_one(lon_w, lat_w)
    elif lon is not None and lat is not None:
        point = to_point(lon, lat, None, None, crs)
        lon_w, lat_w = point.lon, point.lat
        g = locator.locate(point)[0]
    else:
        raise MissingLocation("send address=… or lon=…&lat=…", zh="请输入地址或使用定位")
    answer = locator.grid_answer(g, False)
    worker = grid_worker(answer["workers"])
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
