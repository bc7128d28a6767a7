"""Addresses to dwellings, one at a time (the register import) or a whole file at a time (bulk
geocoding, ``gridmap geocode``).

An address as a register writes it (``九九花园3号楼2单元502室``, ``3-2-502``, ``后曹庄村20号``)
goes through the gazetteer to a building; its unit and room give the floor and the dwelling. A
register repeats its addresses — every member of a household lives at the same one — so a file is
placed once per distinct address and the answers are spread back to the rows as arrays; on the
demo's 1,162,189 persons that is 481,599 gazetteer searches instead of 1.16 million.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.address import ParsedAddress
from gis.gazetteer import Incomplete
from gis.gazetteer_terms import REASONS_ZH, Match
from layers.locating import geocoding
from layers.locating.locators import Locator
from layers.storage.db import driver_connection

# the answer's columns in a geocoded file, after the input's own
GEOCODE_COLUMNS = ("building_code", "unit", "floor", "room", "dwelling_id", "grid_code",
                   "grid_name", "community_name", "street_name", "grids", "score", "confident",
                   "reason", "error", "错误")


# the building and dwelling placed, or None and why not (in English and Chinese)
Placed = tuple[dict, None, None] | tuple[None, str, str]


class Placer:
    """Address → (building id, grid, unit, floor, room), through the gazetteer; each distinct
    address is searched once."""

    def __init__(self, session: Session, locator: Locator, *, dwellings: bool = False):
        self.locator = locator
        self.ids: dict[str, int] = dict(session.execute(text("SELECT code, id FROM buildings")).all())
        self.grids: dict[int, str] = dict(session.execute(text(
            "SELECT building_id, grid_code FROM building_grids")).all())
        # "building id,unit,floor,room" → dwelling id: one string a key, read by a raw cursor
        # into a dict in C (a whole register's 481,599 dwellings: 0.2 s of CPU, not 0.6 s)
        self.dwellings: dict[str, int] = {}
        self.only_dwelling: set[int] = set()  # buildings with one dwelling: no room needed
        if dwellings:  # for answering with the register's dwelling, not only the building
            cur = driver_connection(session).cursor()
            cur.execute("SELECT building_id || ',' || unit || ',' || floor || ',' || room, id "
                        "FROM dwellings")
            self.dwellings = dict(cur.fetchall())
            self.only_dwelling = set(session.scalars(text(
                "SELECT building_id FROM dwellings GROUP BY building_id HAVING count(*) = 1")))
        self._memo: dict[str, Placed] = {}
        self._answers: dict[str, dict | None] = {}

    def place(self, address: str) -> Placed:
        """The register's question: the building and dwelling, only on a confident answer that
        is one building (else None and why, in English and Chinese)."""
        found = self._memo.get(address)
        if found is None:
            found = self._memo[address] = self._place(self.answer(address))
        return found

    def answer(self, address: str) -> dict | None:
        """The best candidate exactly as ``GET /v1/geocode`` ranks it — a building, a site, a
        compound, a door plate, a village or a community, confident or not — with its grid (one
        code path for the API, the register and ``gridmap geocode``)."""
        if address not in self._answers:
            self._answers[address] = self._answer(address)
        return self._answers[address]

    def _answer(self, address: str) -> dict | None:
        if self.locator.gazetteer is None:
            return None
        parsed, found = geocoding.search(self.locator.gazetteer, address, 1)
        if not found:
            return None
        return self.answer_of(parsed, found[0])

    def answer_of(self, parsed: ParsedAddress, m: Match) -> dict:
        """``answer`` of an address parsed as ``parsed``, whose best candidate is ``m``."""
        entry = m.entry
        building = self.ids.get(entry.code) if entry.kind == "building" else None
        grid = self.grids.get(building) if building is not None else None
        if grid is None:
            grid = entry.grid_code
        if grid is None and entry.kind == "interpolated":  # a point between door plates
            g, _ = self.locator.index.locate_one(entry.lon, entry.lat)
            grid = str(self.locator.index.codes[g]) if g >= 0 else None
        unit, floor, room, dwelling = self.dwelling(building, parsed)
        return {"building_id": building, "building": entry.code if building is not None else None,
                "code": entry.code, "address": entry.address, "kind": entry.kind,
                "grids": entry.grids, "unit": unit, "floor": floor, "room": room, "grid": grid,
                "score": round(m.score, 3), "confident": m.confident, "reason": m.reason,
                "dwelling_id": dwelling}

    def dwelling(self, building: int | None, parsed: ParsedAddress) -> tuple[int, int, str, int | None]:
        """(unit, floor, room, the register's dwelling) of an address in ``building``."""
        unit = int(parsed.unit) if parsed.unit and parsed.unit.isdigit() else 0
        room = parsed.room or "1"
        floor = int(room) // 100 if unit and room.isdigit() and len(room) >= 3 else 0
        # the register's dwelling only when the address names it (a room), or the building has
        # just one: "九九花园3号楼" is the building, not its first flat
        named = building is not None and (parsed.room is not None or building in self.only_dwelling)
        return unit, floor, room, self.dwellings.get(f"{building},{unit},{floor},{room}") if named \
            else None

    @staticmethod
    def _place(found: dict | None) -> Placed:
        if found is None:
            return None, "the address matches no building with confidence; write road or " \
                "compound and building number", "地址无法匹配到建筑"
        if not found["confident"]:
            zh = REASONS_ZH.get(found["reason"], "")
            return None, ("the address matches no building with confidence; write road or "
                          f"compound and building number ({found['reason']}: {found['address']})"), \
                "地址无法匹配到建筑" + (f"（{zh}）" if zh else "")
        if found["kind"] in ("compound", "door_plate", "village", "community"):
            return None, (f"{found['address']} has several buildings; add the building number, "
                          "unit and room"), "地址只到小区或门牌，请补充楼号、单元和房号"
        if found["building_id"] is None:
            return None, f"{found['code']} is a site, not a building with dwellings", "该地址不是住宅建筑"
        return {k: found[k] for k in ("building_id", "building", "unit", "floor", "room", "grid",
                                      "score", "dwelling_id")}, None, None


def geocode_column(placer: Placer, addresses: pd.Series,
                   progress: Callable[[int], None] | None = None,
                   processes: int = 1, client=None) -> pd.DataFrame:
    """The answer columns (``GEOCODE_COLUMNS``) for a column of addresses: each distinct address
    placed once (:func:`_distinct`) and the answers taken back to the rows by index arrays."""
    codes, uniques = pd.factorize(addresses.fillna("").astype(str).str.strip())
    answers = _distinct(placer, list(uniques), _answers, progress, processes, client)
    table = pd.DataFrame(answers, columns=list(GEOCODE_COLUMNS), dtype=object)
    return table.iloc[np.asarray(codes)].reset_index(drop=True)


def geocode_plain_csv(placer: Placer, text: str, column: str,
                      progress: Callable[[int], None] | None = None,
                      processes: int = 1, client=None) -> tuple[str, int, int, int] | None:
    """(text, rows, rows answered confidently, rows placed in a dwelling): the whole answer of a
    plain CSV — no quotes, no blank lines, no space after a comma —
    as text: each input line as it came, then the answer's columns, rendered once per distinct
    address (in the workers). What the data frame path writes for the same file, without
    parsing it into a frame and writing it out again (a test holds the two to the same text);
    None when the file is not plain."""
    if '"' in text or ", " in text:
        return None
    lines = text.replace("\r\n", "\n").removesuffix("\n").split("\n")
    header = lines[0].split(",")
    names = [h.strip() for h in header]
    if column not in names or "" in lines:
        return None
    k, width = names.index(column), len(header)
    codes: list[int] = []
    index: dict[str, int] = {}
    commas = width - 1
    for line in lines[1:]:
        if line.count(",") != commas:
            return None
        codes.append(index.setdefault(line.split(",", k + 1)[k].strip(), len(index)))
    answers = _distinct(placer, list(index), _fragments, progress, processes, client)
    head = lines[0] + "," + ",".join(GEOCODE_COLUMNS)
    text = "\n".join([head, *(f"{line},{answers[c][0]}" for line, c in zip(lines[1:], codes,
                                                                        strict=True))]) + "\n"
    counted = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(answers))
    placed = np.array([a[1:] for a in answers], dtype=bool).reshape(-1, 2)
    return text, len(codes), int(counted @ placed[:, 0]), int(counted @ placed[:, 1])


def _distinct(placer: Placer, uniques: list[str], work: Callable, progress, processes: int,
              client) -> list:
    """``work(placer, chunk)`` over the distinct addresses, in their order: by ``processes``
    forked workers sharing the gazetteer, when more than one, or on the workers of a
    ``dask.distributed`` ``client`` (the placer sent once to each)."""
    chunks = [uniques[i:i + _CHUNK] for i in range(0, len(uniques), _CHUNK)]
    answers: list = []
    gazetteer = placer.locator.gazetteer
    if client is not None:
        if gazetteer is not None:
            gazetteer.complete()  # indexed once here, not on every worker
        shared = client.scatter(placer, broadcast=True)
        for future in client.map(work, [shared] * len(chunks), chunks, pure=False):
            part = future.result()  # in the file's order
            future.release()
            answers += part
            if progress:
                progress(len(part))
    elif processes > 1 and len(chunks) > 1:
        global _FORKED
        _FORKED = placer
        parts: list = [None] * len(chunks)
        todo = list(range(len(chunks)))
        frozen = gc.get_freeze_count() > 0  # by the caller (gridmap geocode): left so
        gc.freeze()  # the workers' collections never walk (and so copy) the gazetteer's pages
        try:
            while todo:
                with ProcessPoolExecutor(processes, mp_context=get_context("fork")) as pool:
                    for i, part in zip(todo, pool.map(partial(_in_child, work),
                                                      [chunks[i] for i in todo]), strict=True):
                        parts[i] = part
                        if progress and part is not None:
                            progress(len(part))
                todo = [i for i, part in enumerate(parts) if part is None]
                if todo and gazetteer is not None:  # they need the organisations' names:
                    gazetteer.complete()  # indexed here once, then those chunks forked again
        finally:
            _FORKED = None
            if not frozen:
                gc.unfreeze()
        answers = [answer for part in parts for answer in part]
    else:
        for chunk in chunks:
            answers += work(placer, chunk)
            if progress:
                progress(len(chunk))
    return answers


_CHUNK = 10_000
_FORKED: Placer | None = None  # the placer a forked worker inherits


def _in_child(work: Callable, chunk: list[str]) -> list | None:
    """``work`` on a chunk in a forked worker; None when the chunk needs what the gazetteer put
    off (a register's own addresses never do): the parent indexes that once, not each worker."""
    assert _FORKED is not None
    gazetteer = _FORKED.locator.gazetteer
    if gazetteer is not None:
        gazetteer.may_index = False
    try:
        return work(_FORKED, chunk)
    except Incomplete:
        return None


def _fragments(placer: Placer, chunk: list[str]) -> list[tuple[str, bool, bool]]:
    """The answer's columns of each address as CSV text (what pandas writes for them), and
    whether it was answered confidently and found a dwelling. Another dwelling of a building
    answered before in the chunk, in the register's own form, takes that answer's columns and
    computes only its unit, floor, room and dwelling (``Placer.dwelling``, as ``answer`` does):
    a test holds the text to the data frame path's, which answers every address whole."""
    gazetteer = placer.locator.gazetteer
    out = []
    rendered: dict[tuple, tuple[str, str]] = {}  # the columns but unit, floor, room, dwelling
    # an address in the register's own form whose building was answered before in the chunk:
    # only its unit, floor, room and dwelling are its own (building id, columns, confident)
    by_entry: dict[int, tuple[int | None, tuple[str, str], bool]] = {}
    for address in chunk:
        fast = gazetteer.register_form(address) if gazetteer is not None and address else None
        entry = id(fast[1][0].entry) if fast is not None else 0
        known = by_entry.get(entry) if fast is not None else None
        if known is None:  # the answer as the API gives it
            answer = _answers(placer, [address])[0]
            key = (answer[0], *answer[5:])  # the same for every dwelling of a building
            parts = rendered.get(key)
            if parts is None:
                parts = rendered[key] = (_field(answer[0]), ",".join(map(_field, answer[5:])))
            _building, unit, floor, room, dwelling = answer[:5]  # numbers (or None) but the room
            confident = answer[11] is True
            if fast is not None:
                building = placer.answer_of(fast[0], fast[1][0])["building_id"]
                by_entry[entry] = (building, parts, confident)
        else:
            assert fast is not None  # known only in the register's own form
            building, parts, confident = known
            unit, floor, room, dwelling = (placer.dwelling(building, fast[0]) if building is not None
                                           else (None, None, None, None))
        out.append((f"{parts[0]},{'' if unit is None else unit},{'' if floor is None else floor},"
                    f"{_field(room)},{'' if dwelling is None else dwelling},{parts[1]}",
                    confident, dwelling is not None))
    return out


def _field(value) -> str:
    """One CSV field as pandas writes it (quoted only when it must be)."""
    if value is None:
        return ""
    text = str(value)
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _answers(placer: Placer, chunk: list[str]) -> list[tuple]:
    """The answer's columns of each address: the best candidate as the API answers it (a site,
    a compound or a village too, with ``grids`` when it spans several), ``confident`` and, when
    not, the ``reason``; ``error`` when nothing matches at all."""
    areas = placer.locator.areas
    names: dict[str | None, tuple] = {}  # a grid's, its community's and its street's names
    out: list[tuple] = []
    for address in chunk:
        found = placer._answer(address) if address else None  # distinct: nothing to remember
        if found is None:
            why, zh = (("the address matches no building or place; write road or compound and "
                        "building number", "地址无法匹配") if address else ("the address is empty",
                                                                      "地址为空"))
            out.append((None,) * 13 + (why, zh))
            continue
        grid = found["grid"]
        building = found["building"] or (found["code"] if found["kind"] not in _AREAS else None)
        has_unit = found["building_id"] is not None
        named = names.get(grid)
        if named is None:
            named = names[grid] = (_name(areas, grid), _name(areas, grid and grid[:12]),
                                   _name(areas, grid and grid[:9]))
        out.append((building, found["unit"] if has_unit else None,
                    found["floor"] if has_unit else None, found["room"] if has_unit else None,
                    found["dwelling_id"], grid, *named, ";".join(found["grids"]) or None,
                    found["score"], found["confident"], found["reason"], None, None))
    return out


_AREAS = ("compound", "door_plate", "village", "community", "interpolated")


def _name(areas: dict, code: str | None) -> str | None:
    return areas.get(code, {}).get("name") if code else None
