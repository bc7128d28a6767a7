"""What the gazetteer (gis/gazetteer.py) answers: its entries, a candidate with its score and
reason, the evidence of how an entry met a query, and the one rule tying a score to its reason —
``confident`` (score ≥ :data:`CONFIDENT`) exactly when there is no reason to doubt it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from gis.address import ParsedAddress, normalise

CONFIDENT = 0.8
MARGIN = 0.1  # another candidate within this of the best: ambiguous
REASONS_ZH = {
    "ambiguous": "有多个相近的地址，请选择",
    "approximate name": "名称不完全一致，请确认",
    "building not found": "未找到该楼号，请核对",
    "several grids": "该地点跨多个网格，请补充楼号或门牌",
    "between door plates": "门牌号不在地址库中，位置为推算",
    "contradicts": "地址各部分不一致，请核对",
    "partial name": "仅匹配名称的一部分，请确认",
    "other district": "地址属于其他区县",
}

@dataclass
class Entry:
    code: str
    address: str
    name: str | None
    lon: float
    lat: float
    # "building", a place's kind, or an answer about several buildings: compound, door_plate,
    # village, community, interpolated
    kind: str
    parts: ParsedAddress
    grid_code: str | None = None
    grids: tuple[str, ...] = ()  # a place of several buildings: the grids it lies in


class Match(NamedTuple):
    entry: Entry
    score: float
    reason: str | None = None  # why not confident (None when confident)

    @property
    def confident(self) -> bool:
        return self.score >= CONFIDENT


@dataclass
class Evidence:
    """How one entry met the query: name levels per part, and what disagreed."""

    compound: int | None = None
    road: int | None = None
    village: int | None = None
    place: int | None = None
    identified: bool = False  # something distinctive names it (rule 1)
    conflicts: int = 0  # parts of the query that say otherwise (rule 2)
    raw: float = 1.0



def canonical(part: str, value) -> str:
    """A part of a standard address as the parser would have written it."""
    text = str(value)
    if text.isdigit():
        return text
    if part in ("house_number", "building_no", "unit", "floor", "room", "group"):
        return normalise(text).removesuffix("号").removesuffix("号楼") or text
    return normalise(text)


def scored(entry: Entry, raw: float, reason: str | None) -> Match:
    """A candidate whose score says what its reason says: ≥ CONFIDENT exactly when there is none."""
    raw = max(0.0, min(1.0, raw))
    score = max(raw, CONFIDENT) if reason is None else min(raw, CONFIDENT - 0.01)
    return Match(entry, round(score, 3), reason)


def flagged(found: list[Match], reason: str) -> list[Match]:
    """The same candidates, none of them confident, each with ``reason``."""
    return [scored(m.entry, m.score, reason) for m in found]


def ambiguous(answers: list[Match]) -> list[Match]:
    """Several answers where one was wanted: none of them is confident."""
    answers = sorted(answers, key=lambda m: (-m.score, m.entry.code))
    if len(answers) < 2:
        return answers
    return [scored(m.entry, m.score, m.reason or "ambiguous") for m in answers]
