"""Chinese address normalisation and parsing, for the gazetteer geocoder.

Addresses and queries go through the same :func:`normalise` and :func:`parse`, so whatever form a
resident or a register writes meets the gazetteer in one canonical form:

- **Variant characters** through OpenCC's maintained tables (traditional → simplified: 號樓 →
  号楼, 園 → 园), full-width forms through NFKC (１２ → 12, ＃ → #), spaces and punctuation removed.
- **Numerals are numbers only where a number is grammatical**: before 号, 号楼, 栋, 幢, 座, #,
  单元, 室, 层, 楼, 户, 组, 排, or after them at the end (1号楼六〇二). Everywhere else a numeral
  character is part of a name and stays as written — 九九花园, 百花公寓, 千佛山小区, 三里屯,
  十里铺, 第一中学. :func:`fold` gives the other reading of a name (九九花园 → 99花园) so a name
  typed with digits still meets it; the gazetteer matches both.
- **Building notations**: 3号楼, 3栋, 3幢, 3座, 3#, 3#楼 are building 3; 3号院 after a road is the
  door plate; 3-2-501 (and 3号楼2-501) is building-unit-room; 502室, 502户, 5层, 第5层, 5楼西户.

The standard address (GB/T 23705, 一标三实) is parsed into its parts: district (dropped), street,
community or village (+ 组), road and door plate, compound, building, unit, floor, room. Known names
(:class:`Vocabulary`) let the parser cut a community from the road that follows it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERALS = "〇零一二三四五六七八九十百千廿"
_CN_RUN = re.compile(f"[{_NUMERALS}]+")
# where a number is grammatical: the words that follow one (and "-" of 3-2-501)
_NUMBER_AFTER = re.compile(r"(?:号|#|栋|幢|座|单元|室|层|楼|户|组|排|-)")
# ... or the words it follows, when it ends the address (1号楼六〇二, 2单元五〇一)
_NUMBER_BEFORE = re.compile(r"(?:号楼|单元|栋|幢|座|#|层|楼|-|\d)$")
_PUNCT = re.compile(r"[\s,，.。、;；:：'\"“”‘’()（）\[\]【】<>《》!！?？·•_/\\|~`@$%^&*+=]+")
_DASHES = str.maketrans({"－": "-", "—": "-", "–": "-", "─": "-", "~": "-"})
# building notations → N号楼 (3号楼, 3栋, 3幢, 3座, 3#, 3#楼, 3号栋 …)
_BUILDING_WORDS = re.compile(r"(\d+)(?:号楼|号栋|号幢|号座|#楼|#栋|栋|幢|座|#)")
# a bare 楼 after a number: a building before any unit, a floor after one (2单元5楼)
_BARE_LOU = re.compile(r"(\d+)楼")
_FLOOR = re.compile(r"第?(\d+)层")
_SHORTHAND = re.compile(r"(\d+)-(\d+)-(\d+)(?:室|户|号)?$")  # 3-2-501: building-unit-room
_UNIT_ROOM = re.compile(r"(号楼)(\d+)-(\d+)(?:室|户)?$")  # 3号楼2-501: unit-room
# 山东省济宁市 (but not 华联超市, 东门菜市场)
_ADMIN_PREFIX = re.compile(r"^(中国)?([\u4e00-\u9fff]{2,3}省)?([\u4e00-\u9fff]{2,3}(?<![超菜夜])市(?!场))?")
_COMMITTEE = re.compile(r"^(?:居委会|居民委员会|村委会|村民委员会)")
# a county-level name at the start (历下区, 微山县, 前旗) — not 小区, 社区, 园区, 老城区, 生活区 …
_ANY_COUNTY = re.compile(r"^[\u4e00-\u9fff]{2,6}?(?<![小社园景校厂城街片宅活舍属])(?:区|县|旗)")
# a county-level prefix of another district (历下区, 微山县) before a road or a village
_COUNTY = re.compile(r"^[\u4e00-\u9fff]{2,4}?(?:(?<![小社园景校厂])区|县)"
                     r"(?=.+?(?:大道|路|街|巷|胡同|里|道|弄|村)\d+号)")
_COMMUNITY = re.compile(r"^([\u4e00-\u9fff\d]{2,10}?(?:社区居委会|社区居民委员会|居委会|社区))(?=\D{2})")
_DOOR_DASH = re.compile(r"(\d+)-(\d+)号(?!楼)")  # 12-3号: a door plate's sub-number, kept
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"^(\d+)(?:室|号房|户|号)?$")
_SIDE_ROOM = re.compile(r"^(\d+)层([东西])户?$")  # 5楼西户 / 5层东户 → room 501 / 502
_SIDES = {"西": "01", "东": "02"}
_HOUSEHOLD = re.compile(r"^(\d+)(?:户|室)$")  # the n-th household at a door plate: （2户）
_DOOR = r"(\d+(?:-\d+)?)号(?:院)?(?!楼)"
_ROAD = re.compile(r"^(\D+?(?:大道|路|街|巷|胡同|里|道|弄))" + _DOOR)
_VILLAGE = re.compile(r"^(.+?村)(?:(\d+)组)?" + _DOOR)
_VILLAGE_GROUP = re.compile(r"^(.+?村)(\d+)组$")
_ROAD_LOOSE = re.compile(r"^(\D{2,8}?)" + _DOOR)  # a road whose suffix was mistyped
_BUILDING = re.compile(r"^(.*?)(\d+)号楼")
_NUMBERED = re.compile(r"^(.+?)(\d+)号(?:院)?$")  # 曲水苑3号: a compound's building 3


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
            total += (current or 1) * _CN_UNITS[c]
            current = 0
    return str(total + current)


def _numbers(text: str) -> str:
    """Numeral runs → digits where a number is grammatical; names keep their characters."""
    def one(m: re.Match) -> str:
        after = text[m.end():]
        if _NUMBER_AFTER.match(after) or (not after and _NUMBER_BEFORE.search(text[:m.start()])):
            return _cn_number(m.group(0))
        return m.group(0)
    return _CN_RUN.sub(one, text)


def fold(name: str) -> str:
    """The other reading of a name: every numeral run as digits (九九花园 → 99花园, 廿里铺 and
    二十里铺 → 20里铺). Only a key for matching: names are shown as written."""
    return _CN_RUN.sub(lambda m: _cn_number(m.group(0)), name)


def simplified(text: str) -> str:
    """Traditional characters as simplified ones (OpenCC's maintained tables: 號樓 → 号楼)."""
    return _T2S.convert(text)


@lru_cache(maxsize=65536)
def clean(text: str) -> str:
    """Characters only: NFKC, OpenCC traditional → simplified, no spaces or punctuation. What a
    name is compared by (numerals untouched)."""
    text = unicodedata.normalize("NFKC", text or "").translate(_DASHES)
    return _PUNCT.sub("", _T2S.convert(text))


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Canonical form of an address: :func:`clean`, numbers where grammatical, building
    notations as N号楼, building-unit-room shorthands spelled out."""
    text = _numbers(clean(text))
    shorthand = _SHORTHAND.search(text)
    if shorthand:
        b, u, r = shorthand.groups()
        text = text[:shorthand.start()] + f"{b}号楼{u}单元{r}室"
    else:
        text = _BUILDING_WORDS.sub(lambda m: f"{m.group(1)}号楼", text)
        text = _UNIT_ROOM.sub(lambda m: f"{m.group(1)}{m.group(2)}单元{m.group(3)}室", text)
    text = _BUILDING_WORDS.sub(lambda m: f"{m.group(1)}号楼", text)
    unit_at = text.find("单元")
    text = _BARE_LOU.sub(lambda m: f"{m.group(1)}{'层' if 0 <= unit_at < m.start() else '号楼'}",
                         text)
    text = _FLOOR.sub(lambda m: f"{m.group(1)}层", text)
    return _DOOR_DASH.sub(r"\1~\2号", text).replace("-", "").replace("~", "-")


@dataclass
class ParsedAddress:
    normalised: str
    street: str | None = None  # 镇/街道, when the vocabulary knows it
    community: str | None = None  # 社区 (a village is ``village``)
    village: str | None = None
    group: str | None = None  # 村民小组: 张庄村3组
    road: str | None = None
    house_number: str | None = None  # the door plate's number (门牌号)
    compound: str | None = None  # a compound's or a place's name
    building_no: str | None = None
    unit: str | None = None
    floor: str | None = None
    room: str | None = None
    rest: str | None = None  # what was left over
    # an explicit province, city or county that is not the district's own or its parents'
    # (济南市历下区, 山东省曲阜市): the address is another district's — never a confident answer here
    other_district: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v}


class Prefixes:
    """Known names found at the start of a text, longest first: each name also under its other
    reading (:func:`fold`) and its other names, all answering the name itself."""

    def __init__(self, names: dict[str, str] | None = None):
        # by the first two characters (a district's roads share first characters by the hundred)
        self._by_first: dict[str, list[tuple[str, str]]] = {}
        names = names or {}
        for written in sorted(names, key=len, reverse=True):
            self._by_first.setdefault(written[:2], []).append((written, names[written]))

    @classmethod
    def of(cls, names, aliases: dict[str, tuple[str, ...]] | None = None) -> Prefixes:
        """``names`` as the normaliser writes them; ``aliases``: name → its other names."""
        table: dict[str, str] = {}
        for name in names:
            if not name:
                continue
            for form in (name, *((aliases or {}).get(name, ()))):
                form = normalise(form)
                table.setdefault(form, name)
                table.setdefault(fold(form), name)
        return cls(table)

    def at(self, text: str) -> tuple[str, int] | None:
        """(the known name, how many characters of ``text`` it took)."""
        for written, name in self._by_first.get(text[:2], ()):
            if text.startswith(written):
                return name, len(written)
        for written, name in self._by_first.get(text[:1], ()):  # one-character names
            if text.startswith(written):
                return name, len(written)
        return None

    def forms(self) -> list[str]:
        return [written for names in self._by_first.values() for written, _name in names]

    def __bool__(self) -> bool:
        return bool(self._by_first)


@dataclass
class Vocabulary:
    """Names the parser may cut at: administrative prefixes to drop (the district's own name),
    streets, communities and villages, roads — as the normaliser writes them."""

    drop_prefixes: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()  # the district's province and city (gis/divisions.py)
    streets: Prefixes = field(default_factory=Prefixes)
    communities: Prefixes = field(default_factory=Prefixes)  # 社区 and 村 names
    roads: Prefixes = field(default_factory=Prefixes)

    @classmethod
    def of(cls, drop_prefixes=(), streets=(), communities=(), roads=(),
           aliases: dict[str, tuple[str, ...]] | None = None, parents=()) -> Vocabulary:
        """Names as written; ``aliases``: a name → its other names (二十里铺街道 for 廿里铺街道);
        ``parents``: the district's province and city (山东省, 济宁市)."""
        def canon(names):
            return [normalise(n) for n in names if n]
        aliases = {normalise(k): v for k, v in (aliases or {}).items()}
        drops = {d for n in canon(drop_prefixes) for d in (n, fold(n))}
        return cls(tuple(sorted(drops, key=len, reverse=True)), tuple(canon(parents)),
                   Prefixes.of(canon(streets), aliases), Prefixes.of(canon(communities), aliases),
                   Prefixes.of(canon(roads), aliases))


_EMPTY = Vocabulary()


def parse(text: str, vocabulary: Vocabulary | None = None, *, drop_prefixes: tuple[str, ...] = (),
          streets: tuple[str, ...] = ()) -> ParsedAddress:
    """Split an address into its parts. ``vocabulary`` (or ``drop_prefixes`` and ``streets``)
    says which names the district knows."""
    v = vocabulary or (Vocabulary.of(drop_prefixes, streets) if drop_prefixes or streets else _EMPTY)
    norm = normalise(text)
    admin = _ADMIN_PREFIX.match(norm)
    assert admin is not None  # every group of _ADMIN_PREFIX is optional: it matches any text
    rest = norm[admin.end():]
    out = ParsedAddress(normalised=norm)
    for prefix in v.drop_prefixes:
        if rest.startswith(prefix):
            rest = rest[len(prefix):]
            break
    else:
        county = _ANY_COUNTY.match(rest)
        if county and not (v.streets.at(rest) or v.communities.at(rest) or v.roads.at(rest)):
            out.other_district, rest = county.group(0), rest[county.end():]
        else:
            rest = _COUNTY.sub("", rest, count=1)
    own = {*v.parents, *v.drop_prefixes}
    for unit in (admin.group(2), admin.group(3)):  # a province or city that is not a parent
        if unit and v.parents and unit not in own and out.other_district is None:
            out.other_district = unit
    street = v.streets.at(rest)
    if street:
        out.street, rest = street[0], rest[street[1]:]
    community = v.communities.at(rest)
    if community and community[0].endswith("村"):
        if rest[community[1]:] == "":
            out.village, rest = community[0], ""
        elif _VILLAGE.match(community[0] + rest[community[1]:]) or \
                _VILLAGE_GROUP.match(community[0] + rest[community[1]:]):
            rest = community[0] + rest[community[1]:]  # the village as the district writes it
    elif community:
        out.community, rest = community[0], _COMMITTEE.sub("", rest[community[1]:], count=1)
    else:
        m = _COMMUNITY.match(rest)
        if m and not v.roads.at(rest):
            out.community, rest = m.group(1), rest[m.end():]
    rest = _tail(rest, out)
    m = _VILLAGE.match(rest)
    if m and not v.roads.at(rest):
        out.village, out.group, out.house_number = m.group(1), m.group(2), m.group(3)
        rest = rest[m.end():]
    elif m := _VILLAGE_GROUP.match(rest):
        out.village, out.group, rest = m.group(1), m.group(2), ""
    else:
        road = v.roads.at(rest)
        m = re.match(_DOOR, rest[road[1]:]) if road else None
        if road and m:
            out.road, out.house_number, rest = road[0], m.group(1), rest[road[1] + m.end():]
        else:
            m = _ROAD.match(rest) or _ROAD_LOOSE.match(rest)
            if m:
                out.road, out.house_number, rest = m.group(1), m.group(2), rest[m.end():]
                _compound_before_road(out, v)
    m = _BUILDING.match(rest)
    if m:
        out.compound = m.group(1) or out.compound
        out.building_no = m.group(2)
        tail = rest[m.end():]
        if tail and out.room is None and (tail.isdigit() or _HOUSEHOLD.match(tail)):
            out.room, tail = tail.rstrip("户室"), ""
        road = v.roads.at(tail) if not out.road else None
        door = re.match(_DOOR + "$", tail[road[1]:]) if road else None
        later = _ROAD.match(tail) if not out.road else None  # 曲水苑3号楼（太白楼路12号）
        if road and door:  # (a door is only looked for after a road)
            out.road, out.house_number, tail = road[0], door.group(1), ""
        elif later and later.end() == len(tail):
            out.road, out.house_number, tail = later.group(1), later.group(2), ""
        rest = tail
    elif rest and out.room is None and (out.village or out.road) and \
            (household := _HOUSEHOLD.match(rest)):
        out.room, rest = household.group(1), ""
    elif rest and not out.village:
        numbered = _NUMBERED.match(rest)
        if numbered and not out.road:  # 曲水苑3号: the compound's building 3
            out.compound, out.building_no, rest = numbered.group(1), numbered.group(2), ""
        else:
            out.compound, rest = rest, ""
    out.rest = rest or None
    return out


def _compound_before_road(out: ParsedAddress, v: Vocabulary) -> None:
    """和苑小区建设路1号: a road the district does not know that ends with one it knows is a
    compound written before its road."""
    name = out.road
    if not name or not v.roads or v.roads.at(name):
        return
    for i in range(2, len(name) - 1):
        known = v.roads.at(name[i:])
        if known and known[1] == len(name) - i:
            out.compound, out.road = name[:i], known[0]
            return


def _tail(rest: str, out: ParsedAddress) -> str:
    """Take unit, floor and room off the end of ``rest``; return what is left."""
    m = _UNIT.search(rest)
    if m:
        out.unit = m.group(1)
        tail = rest[m.end():]
        side = _SIDE_ROOM.match(tail)
        floor = _FLOOR.match(tail)
        room = _ROOM.match(tail)
        if side:
            out.floor = side.group(1)
            out.room = side.group(1) + _SIDES[side.group(2)]
        elif floor:
            out.floor = floor.group(1)
            after = tail[floor.end():]
            if after and (after_room := _ROOM.match(after)):
                out.room = after_room.group(1)
        elif room and tail:
            out.room = room.group(1)
        return rest[:m.start()]
    m = _FLOOR.search(rest)
    if m and m.start() > 0:
        out.floor = m.group(1)
        after = rest[m.end():]
        if after and (after_room := _ROOM.match(after)):
            out.room = after_room.group(1)
        return rest[:m.start()]
    return rest


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
