"""Chinese address normalisation and parsing, for the gazetteer geocoder.

Addresses and queries go through the same :func:`normalise` and :func:`parse`, so whatever form a
resident types — full-width digits, Chinese numerals (三号楼, 十二号楼, 六〇二), 栋/幢/座 for 号楼,
廿 for 二十, "3-2-501" for building-unit-room, no province/city/district, spaces and punctuation —
it meets the gazetteer in one canonical form.

Standard urban address: road + number + compound + building (太白楼路12号曲水苑3号楼), optional
unit and room; rural: street/town + village + number (喻屯镇张庄村128号).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_RUN = re.compile(r"[〇零一二三四五六七八九十百千廿]+")
_PUNCT = re.compile(r"[\s,，.。、;；:：'\"“”‘’()（）\[\]【】<>《》!！?？·•_/\\|~`@$%^&*+=]+")
_ADMIN_PREFIX = re.compile(r"^(中国)?([\u4e00-\u9fff]{2,3}省)?([\u4e00-\u9fff]{2,3}市)?")
_SHORTHAND = re.compile(r"(\d+)-(\d+)-(\d+)$")  # 3-2-501: building-unit-room
_BUILDING_WORDS = re.compile(r"(\d+)(?:号楼|号栋|号幢|号座|栋|幢|座|楼)")
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"(\d+)(?:室|号房|户)?$")
# 5楼西户 / 5层东户 (normalise has made 5楼 into 5号楼): the floor and the side → room 501 / 502
_SIDE_ROOM = re.compile(r"^(\d+)(?:号楼|层)([东西])户?$")
_SIDES = {"西": "01", "东": "02"}
# the n-th household at a door plate: 后曹庄村20号（2户） → room 2
_HOUSEHOLD = re.compile(r"^(\d+)(?:户|室)$")
# a county-level prefix of another district (历下区, 微山县) before a road or a village
_COUNTY = re.compile(r"^[\u4e00-\u9fff]{2,4}?(?:区|县)(?=.+?(?:大道|路|街|巷|胡同|里|道|弄|村)\d+号)")
_ROAD = re.compile(r"^(.+?(?:大道|路|街|巷|胡同|里|道|弄))(\d+)号(?!楼)")
_VILLAGE = re.compile(r"^(.+?村)(\d+)号(?!楼)")
_ROAD_LOOSE = re.compile(r"^(\D{2,8}?)(\d+)号(?!楼)")  # a road whose suffix was mistyped
_BUILDING = re.compile(r"^(.*?)(\d+)号楼")


def _cn_number(run: str) -> str:
    """一百零五 → 105, 十二 → 12, 二十 → 20, 廿三 → 23; 六〇二 (digit by digit) → 602."""
    run = run.replace("廿", "二十")
    if not any(c in _CN_UNITS for c in run):
        return "".join(str(_CN_DIGITS[c]) for c in run)
    total, current = 0, 0
    for c in run:
        if c in _CN_DIGITS:
            current = _CN_DIGITS[c]
        else:
            unit = _CN_UNITS[c]
            total += (current or 1) * unit
            current = 0
    return str(total + current)


def normalise(text: str) -> str:
    """Canonical form: NFKC (full-width → ASCII), Chinese numerals → digits, no punctuation,
    号楼/栋/幢/座 → 号楼. The same function runs on the gazetteer and on queries."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    text = text.replace("－", "-").replace("—", "-").replace("–", "-")
    text = _CN_RUN.sub(lambda m: _cn_number(m.group(0)), text)
    shorthand = _SHORTHAND.search(re.sub(r"\s+", "", text))
    text = _PUNCT.sub("", text)
    if shorthand:  # keep the building-unit-room shorthand readable after removing punctuation
        b, u, r = shorthand.groups()
        text = re.sub(r"(\d+)-(\d+)-(\d+)$", "", text) + f"{b}号楼{u}单元{r}室"
    text = text.replace("-", "")
    return _BUILDING_WORDS.sub(lambda m: f"{m.group(1)}号楼", text)


@dataclass
class ParsedAddress:
    normalised: str
    street: str | None = None  # 镇/街道, when the gazetteer knows it
    village: str | None = None
    road: str | None = None
    house_number: str | None = None
    compound: str | None = None
    building_no: str | None = None
    unit: str | None = None
    room: str | None = None
    rest: str | None = None  # what was left over

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v}


def parse(text: str, *, drop_prefixes: tuple[str, ...] = (), streets: tuple[str, ...] = ()) -> ParsedAddress:
    """Split an address into components. ``drop_prefixes``: administrative names to ignore at the
    start (the district's); ``streets``: known 镇/街道 names, longest first, kept as a component."""
    norm = normalise(text)
    rest = _ADMIN_PREFIX.sub("", norm)
    for prefix in drop_prefixes:
        if rest.startswith(prefix):
            rest = rest[len(prefix):]
    if not any(rest.startswith(p) for p in drop_prefixes):
        rest = _COUNTY.sub("", rest, count=1)
    out = ParsedAddress(normalised=norm)
    for street in streets:
        if rest.startswith(street):
            out.street, rest = street, rest[len(street):]
            break
    m = _UNIT.search(rest)
    if m:
        out.unit = m.group(1)
        tail = rest[m.end():]
        room = _ROOM.match(tail)
        side = _SIDE_ROOM.match(tail)
        if side:
            out.room = side.group(1) + _SIDES[side.group(2)]
        elif room and tail:
            out.room = room.group(1)
        rest = rest[:m.start()]
    m = _VILLAGE.match(rest)
    if m:
        out.village, out.house_number, rest = m.group(1), m.group(2), rest[m.end():]
    else:
        m = _ROAD.match(rest) or _ROAD_LOOSE.match(rest)
        if m:
            out.road, out.house_number, rest = m.group(1), m.group(2), rest[m.end():]
    m = _BUILDING.match(rest)
    if m:
        out.compound = m.group(1) or None
        out.building_no = m.group(2)
        tail = rest[m.end():]
        if tail and out.room is None and tail.isdigit():
            out.room, tail = tail, ""
        rest = tail
    elif rest and out.room is None and (out.village or out.road) and _HOUSEHOLD.match(rest):
        out.room, rest = _HOUSEHOLD.match(rest).group(1), ""
    elif rest and out.compound is None and not out.village:
        out.compound, rest = rest, ""
    out.rest = rest or None
    return out


def within_one_edit(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` differ by at most one inserted, deleted or replaced character."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


def deletions(word: str) -> set[str]:
    """The word and every string one deletion away: keys of a one-edit fuzzy index."""
    return {word, *(word[:i] + word[i + 1:] for i in range(len(word)))}
