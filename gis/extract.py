"""Free text → the address inside it: a hotline note (市民来电反映九九花园3号楼楼道堆放杂物), a
WeChat message (我家住太白楼路12号曲水苑三号楼二单元，楼下路灯不亮了).

Known names mark where an address may be — the district's streets, communities and villages,
roads, compounds, places, in every form the gazetteer answers (other names, 九九 as 99) — and a
span grows from each to the right over what addresses are made of: door plates and building,
unit, floor and room numbers (digits, or numerals before 号/栋/单元/室 …), generic words (小区,
花园 …), gates, and further names (a road, then its compound). Each span is geocoded as typed; the
best answer wins (confident first, then score, then the longer span), and the answer says which
characters of the text it used. The text is compared character for character after full-width
and traditional forms are folded (one character for one), so the span indexes the text as sent.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from gis.address import ParsedAddress, simplified
from gis.gazetteer import Gazetteer
from gis.gazetteer_terms import Match, flagged
from gis.name_index import COMPOUND_WORDS

_CN = "〇零一二三四五六七八九十百千廿"
_NUMBER_WORDS = "号楼|号院|号|栋|幢|座|#楼|#|单元|室|层|楼|户|组|排"
_TOKEN = re.compile(
    rf"(?:\d+(?:-\d+)*(?:{_NUMBER_WORDS})?"
    rf"|[{_CN}]+(?:{_NUMBER_WORDS})"
    rf"|第[\d{_CN}]+层"
    r"|[东西南北]门|[东西]户|[东西南北]侧|-"
    rf"|{'|'.join(COMPOUND_WORDS)})")
_MIN_NAME = 2
MAX_SPANS = 30  # distinct places of a text tried, at most


def _folded(text: str) -> str:
    """The text with full-width and traditional forms folded, one character for one, so a span
    found in it indexes the text itself."""
    return "".join(_one(c) for c in text)


@lru_cache(maxsize=8192)
def _one(c: str) -> str:
    folded = simplified(unicodedata.normalize("NFKC", c))
    return folded if len(folded) == 1 else c


class Anchors:
    """The gazetteer's names by first character, longest first."""

    def __init__(self, gazetteer: Gazetteer):
        self._by_first: dict[str, list[str]] = {}
        for name in sorted(gazetteer.name_forms(), key=len, reverse=True):
            if len(name) >= _MIN_NAME:
                self._by_first.setdefault(name[0], []).append(name)

    def at(self, text: str, i: int) -> int:
        """Length of the longest known name starting at ``i`` (0: none)."""
        for name in self._by_first.get(text[i:i + 1], ()):
            if text.startswith(name, i):
                return len(name)
        return 0


def spans(anchors: Anchors, text: str) -> list[tuple[int, int]]:
    """Where addresses may be: from each known name, as far right as address parts go."""
    folded = _folded(text)
    out = []
    i = 0
    while i < len(folded):
        length = anchors.at(folded, i)
        if not length:
            i += 1
            continue
        start, end = i, i + length
        while end < len(folded):
            length = anchors.at(folded, end)  # a known name first: 南门口小区 is not 南门 + 口
            if length:
                end += length
                continue
            m = _TOKEN.match(folded, end)
            if not m or m.end() == end:
                break
            end = m.end()
        out.append((start, end))
        i = end
    return out


_ADMIN_END = re.compile(r"[\u4e00-\u9fff]{2,3}"
                        r"(?:省|(?<![超菜夜])市|(?<![小社园景校厂城街片宅活舍属])区|县|旗)$")


def _other_district_before(gazetteer: Gazetteer, before: str) -> str | None:
    """The province, city or county written just before a span when it is not the district's own
    or its parents' (the span alone would answer a road of the same name here)."""
    m = _ADMIN_END.search(before)
    if m is None:
        return None
    v = gazetteer.vocabulary
    if any(before.endswith(own) for own in (*v.drop_prefixes, *v.parents)):
        return None
    return m.group(0)


def find_addresses(gazetteer: Gazetteer, text: str,
                   limit: int = 5) -> tuple[tuple[int, int], ParsedAddress, list[Match]] | None:
    """(the span used, its parsed parts, its candidates) for the best address in ``text``;
    None when no span answers anything."""
    anchors = gazetteer.extras.get("anchors")
    if anchors is None:
        anchors = gazetteer.extras["anchors"] = Anchors(gazetteer)
    best, best_key = None, None
    seen: set[str] = set()
    for a, b in spans(anchors, text):
        if text[a:b] in seen:
            continue
        seen.add(text[a:b])
        if len(seen) > MAX_SPANS:  # bounded work, whatever the text
            break
        parsed, found = gazetteer.search(text[a:b], limit=limit)
        if not found:
            continue
        other = _other_district_before(gazetteer, _folded(text[max(0, a - 12):a]))
        if other and not parsed.other_district:  # 我住济南市历下区古槐路1063号
            parsed.other_district = other
            found = flagged(found, "other district")
        key = (found[0].confident, found[0].score, b - a)
        if best_key is None or key > best_key:
            best, best_key = ((a, b), parsed, found), key
    return best
