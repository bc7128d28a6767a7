"""Names of one kind (compounds, places, roads, villages) and how a written name meets them.

A name is its **distinctive part** plus **generic words** (小区, 花园, 公寓, 家园, 宿舍, 新村 …
for compounds; 路, 街, 巷 … for roads; 村 for villages): 九九花园 is 九九 + 花园. People add,
drop and swap generic words — 九九花园小区, 九九, 九九小区 — so the generic words are set aside
and compared separately, and a lookup says *how* a name was met, best level first:

====== ============================================================================ ==========
level  the written name is …                                                         example
====== ============================================================================ ==========
EXACT  the name, one of its other names (aliases), or either with numerals as digits 九九花园, 99花园
ADDED  the name with generic words added                                             九九花园小区
CORE   the same distinctive part, other or no generic words                          九九小区
NEAR   one character off the name or its distinctive part (a typo)                   九久花园
====== ============================================================================ ==========

Only the best level that finds anything is answered: 和苑小区 is 和苑 with 小区 added (ADDED),
never 和小区 one character away (the bug of issue 21). Whether a level is good enough to act on is
the gazetteer's decision (gis/gazetteer.py).
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from gis.address import deletions, fold, normalise, within_one_edit

EXACT, ADDED, CORE, NEAR = 0, 1, 2, 3
LEVELS = ("exact", "generic word added", "generic word differs", "approximate name")
# longest first: 家属院 before 院
COMPOUND_WORDS = tuple(sorted((
    "小区", "花园", "公寓", "家园", "宿舍", "家属院", "家属楼", "家属区", "新村", "社区", "嘉园",
    "华庭", "名都", "雅居", "大厦", "公馆", "山庄", "庄园", "花苑", "名苑", "佳苑", "新城", "别墅",
    "住宅区", "生活区", "宿舍区", "苑", "园", "府", "城", "居", "庭", "里", "院", "邸", "湾",
), key=len, reverse=True))
ROAD_WORDS = ("大道", "大街", "胡同", "路", "街", "巷", "道", "弄", "里")
VILLAGE_WORDS = ("村委会", "村民委员会", "行政村", "自然村", "村")
PLACE_WORDS = ()  # a place's name is compared whole (its short names are aliases)


def split_generic(name: str, words: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """(distinctive part, generic words at its end): 九九花园小区 → (九九, (花园, 小区)). A name that
    is all generic words keeps its last one as its distinctive part (花园 → (花园, ()))."""
    by_last = _by_last(words)
    core = name
    tail: list[str] = []
    while core:
        for word in by_last.get(core[-1], ()):
            if core.endswith(word) and len(core) > len(word):
                core = core[:-len(word)]
                tail.insert(0, word)
                break
        else:
            break
    return core, tuple(tail)


@lru_cache(maxsize=16)
def _by_last(words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The generic words by their last character, longest first."""
    out: dict[str, list[str]] = {}
    for word in words:
        out.setdefault(word[-1], []).append(word)
    return {c: tuple(sorted(ws, key=len, reverse=True)) for c, ws in out.items()}


class NameIndex:
    """Known names of one kind, each under its canonical form (as the normaliser writes it)."""

    def __init__(self, words: tuple[str, ...]):
        self.words = words
        self.display: dict[str, str] = {}  # canonical → as written
        self._exact: dict[str, set[str]] = defaultdict(set)
        self._cores: dict[str, set[str]] = defaultdict(set)
        self._near: dict[str, set[str]] = defaultdict(set)  # one deletion of a name or a core

    def __contains__(self, canonical: str) -> bool:
        return canonical in self.display

    def __len__(self) -> int:
        return len(self.display)

    def add(self, canonical: str | None, written: str | None = None,
            aliases: tuple[str, ...] = ()) -> None:
        if not canonical or (canonical in self.display and not aliases):
            return
        self.display.setdefault(canonical, written or canonical)
        for form in (canonical, *(normalise(a) for a in aliases if a)):
            for key in {form, fold(form)}:
                self._exact[key].add(canonical)
                core = split_generic(key, self.words)[0]
                self._cores[core].add(canonical)
                for near in deletions(key) | (deletions(core) if len(core) >= 2 else set()):
                    self._near[near].add(canonical)

    def forms(self) -> list[str]:
        """Every written form this index answers exactly (names, other names, digit readings)."""
        return list(self._exact)

    def cores(self, canonical: str) -> str:
        return split_generic(canonical, self.words)[0]

    def exact(self, written: str) -> list[str]:
        """The names ``written`` is exactly (a name, an other name, either as digits)."""
        for key in dict.fromkeys((written, fold(written))):
            if key in self._exact:
                return sorted(self._exact[key])
        return []

    def lookup(self, written: str | None) -> tuple[int, list[str]]:
        """(level, canonical names) at the best level that finds any; (-1, []) for none."""
        if not written:
            return -1, []
        for key in dict.fromkeys((written, fold(written))):
            if key in self._exact:
                return EXACT, sorted(self._exact[key])
        for key in dict.fromkeys((written, fold(written))):
            shorter = key
            while True:
                for word in self.words:
                    if shorter.endswith(word) and len(shorter) > len(word):
                        shorter = shorter[:-len(word)]
                        break
                else:
                    break
                if shorter in self._exact:
                    return ADDED, sorted(self._exact[shorter])
        for key in dict.fromkeys((written, fold(written))):
            core = split_generic(key, self.words)[0]
            if core in self._cores:
                return CORE, sorted(self._cores[core])
        found: set[str] = set()
        for key in dict.fromkeys((written, fold(written))):
            core = split_generic(key, self.words)[0]
            probes = deletions(key) | (deletions(core) if len(core) >= 2 else set())
            for probe in probes:
                for name in self._near.get(probe, ()):
                    if name not in found and self._one_off(key, core, name):
                        found.add(name)
        return (NEAR, sorted(found)) if found else (-1, [])

    def _one_off(self, key: str, core: str, name: str) -> bool:
        """``key`` is one edit from ``name`` (or one of its forms), or its distinctive part one
        edit from the name's (both at least two characters long)."""
        own_core = self.cores(name)
        if within_one_edit(key, name) or within_one_edit(fold(key), fold(name)):
            return len(name) >= 2
        return len(core) >= 2 and len(own_core) >= 2 and within_one_edit(core, own_core)

    def closeness(self, written: str, canonical: str) -> float:
        """How near a NEAR match is, in (0.8, 1]: one character replaced with the generic words
        kept (凤林名都 for 枫林名都) is nearer than a name whose distinctive part alone is one
        character off (凤林名都 for 枫林苑)."""
        mine, theirs = split_generic(written, self.words), split_generic(canonical, self.words)
        if mine[1] == theirs[1] and len(written) == len(canonical):
            return 1.0
        if within_one_edit(written, canonical):
            return 0.95
        return 0.85

    def unique_core(self, canonical: str) -> bool:
        """Whether the name's distinctive part is its own (at least two characters and no other
        name shares it) — what lets a CORE match be acted on."""
        core = self.cores(canonical)
        return len(core) >= 2 and self._cores.get(core, set()) == {canonical}
