"""Address → building → grid, the residents' question "who is my grid worker?", free text with an
address inside, and working examples of the loaded district — all answered from the active
locator's gazetteer and index (no database on the hot path).

A candidate says how far to trust it: ``confident`` (we would route a case or show a resident
their worker on it) or, when not, the ``reason`` — ``ambiguous``, ``approximate name``,
``building not found``, ``several grids``, ``between door plates``, ``contradicts``,
``partial name`` (gis/gazetteer.py) — with ``reason_zh`` for the page.
"""

from __future__ import annotations

import numpy as np

from gis.address import ParsedAddress
from gis.extract import find_addresses
from gis.gazetteer import Gazetteer
from gis.gazetteer_examples import example_texts
from gis.gazetteer_terms import REASONS_ZH, Match
from gis.points import to_point
from layers.errors import DomainError
from layers.locating.locators import Locator, MissingLocation, grid_worker

MAX_TEXT = 2000  # characters of free text read for an address (a hotline note, a message)


class AddressNotFound(DomainError):
    code = "address_not_found"


class NoAddressInText(DomainError):
    code = "no_address_in_text"


def _candidate(locator: Locator, m: Match) -> dict:
    entry = m.entry
    code = entry.grid_code
    if code is None and entry.kind == "interpolated":  # a point between door plates
        g, _ = locator.index.locate_one(entry.lon, entry.lat)
        code = str(locator.index.codes[g]) if g >= 0 else None
    grid = locator.areas.get(code) if code else None
    return {
        "building": {"code": entry.code, "address": entry.address, "name": entry.name,
                     "kind": entry.kind},
        "grid": {"code": grid["code"], "name": grid["name"]} if grid else None,
        **({"grids": [_grid(locator, g) for g in entry.grids]} if entry.grids else {}),
        "location": {"lon": round(entry.lon, 7), "lat": round(entry.lat, 7)},
        "score": m.score,
        "confident": m.confident,
        "reason": m.reason,
        "reason_zh": REASONS_ZH.get(m.reason) if m.reason else None,
    }


def _grid(locator: Locator, code: str) -> dict:
    return {"code": code, "name": locator.areas.get(code, {}).get("name")}


def search(gazetteer: Gazetteer, q: str, limit: int) -> tuple[ParsedAddress, list[Match]]:
    """The gazetteer's candidates for ``q``; when it has none, those of the address inside it,
    as ``POST /v1/geocode/extract`` finds it — a hotline note pasted into a search box or a
    register's column (市民来电反映：古槐街道竹园府1栋2单元楼道内堆放杂物). The API, the resident
    lookup, the register import and ``gridmap geocode`` all answer through here."""
    parsed, found = gazetteer.search(q, limit=limit)
    if not found:
        inside = find_addresses(gazetteer, q[:MAX_TEXT], limit)
        if inside is not None:
            _span, parsed, found = inside
    return parsed, found


def candidates(locator: Locator, q: str, limit: int) -> tuple[dict, list[dict]]:
    """The parsed address and the best buildings/places for it, each with its grid, score,
    confidence and, when not confident, the reason."""
    if locator.gazetteer is None:
        return {}, []
    parsed, found = search(locator.gazetteer, q, limit)
    return parsed.as_dict(), [_candidate(locator, m) for m in found]


def geocode(locator: Locator, q: str, limit: int) -> dict:
    parsed, found = candidates(locator, q, limit)
    if not found:
        raise AddressNotFound("no building or site matches this address; check the road, compound "
                              "and building number", zh="未找到该地址，请核对路名、小区名和楼号",
                              query=q, parsed=parsed)
    return {"query": q, "parsed": parsed, "candidates": found,
            "echo": {k: parsed[k] for k in ("unit", "floor", "room") if k in parsed}}


def extract(locator: Locator, text: str, limit: int) -> dict:
    """The address inside a sentence (a hotline note, a WeChat message): which span was used and
    its candidates; 404 ``no_address_in_text`` when no part of it is an address we know."""
    text = text[:MAX_TEXT]
    found = find_addresses(locator.gazetteer, text, limit) if locator.gazetteer else None
    if found is None:
        raise NoAddressInText("found no address of this district in the text; add the road and "
                              "door plate or the compound and building", zh="未在文字中找到本区地址",
                              spans=[])
    span, parsed, matches = found
    return {"text": text, "span": {"start": span[0], "end": span[1], "text": text[span[0]:span[1]]},
            "parsed": parsed.as_dict(), "candidates": [_candidate(locator, m) for m in matches]}


def examples(locator: Locator) -> dict:
    """Addresses of the loaded district that answer confidently, one of each form (a building's
    standard address, a building as residents write it, a compound, a place, a village, a door
    plate): what a page shows as its placeholder and its "try" links. Each is checked here."""
    gz = locator.gazetteer
    out: dict[str, dict] = {}
    if gz is not None:
        for kind, text in example_texts(gz):
            if kind in out:
                continue
            _parsed, found = gz.search(text, limit=2)
            if found and found[0].confident:
                out[kind] = {"address": text, "kind": kind,
                             "grid": _candidate(locator, found[0])["grid"]}
    return {"examples": list(out.values())}


def resident_worker(locator: Locator, *, address: str | None, lon: float | None,
                    lat: float | None, crs: str) -> dict:
    """A resident's grid, grid worker (phone masked) and nearest reception room, from a home
    address (only when the match is confident) or a phone's location."""
    matched = None
    if address:
        _parsed, found = candidates(locator, address, 5)
        best = found[0] if found else None
        if best is None or not best["confident"] or best["grid"] is None:
            raise AddressNotFound("the address was not recognised well enough; pick one of the "
                                  "candidates, add the road and building number, or share your "
                                  "location",
                                  zh="未能准确识别该地址，请选择候选地址、补充路名和楼号，或使用定位",
                                  suggestions=[c["building"]["address"] for c in found],
                                  candidates=found)
        matched = {"address": best["building"]["address"], "name": best["building"]["name"],
                   "score": best["score"]}
        lon_w, lat_w = best["location"]["lon"], best["location"]["lat"]
        g = int(np.searchsorted(locator.index.codes.astype(str), best["grid"]["code"]))
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
