"""The held-out sets: each class of query built from the truth by this package's own writers,
and written as CSV (``query,expected_grid,expected_building,class,form,expect,expected_grids,
truth``) with a ``manifest.json`` saying what was made from what.

``expect`` says what a right answer is:

- ``grid``: the query names one thing in one grid (``expected_grid``); a confident answer
  anywhere else is confident-wrong.
- ``area``: the query names an area or a place that spans several grids (``expected_grids``);
  the top answer should lie in one of them, and no grid-level answer can be confident.
- ``none``: a negative control, an address that does not exist in the district; the right
  answer is not confident.

Why this module is long: it is every class's builder in one place, each with the checks that
keep its truth unambiguous (a name that another compound also reads as, a typo that lands on
a real name …); the forms themselves live in forms.py and writers.py.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.address_eval import forms as f
from bench.address_eval import freetext
from bench.address_eval import writers as w
from bench.address_eval.truth import Building, Site, Truth

COLUMNS = ("query", "expected_grid", "expected_building", "class", "form", "expect",
           "expected_grids", "truth")
SET_FILES = {
    "standard": "standard.csv", "variant": "variants.csv", "typo": "typos.csv",
    "numeral_name": "numeral_names.csv", "landmark": "landmarks.csv", "area": "areas.csv",
    "free_text": "free_text.csv", "negative": "negatives.csv",
}


@dataclass(frozen=True)
class Row:
    query: str
    cls: str
    form: str
    expect: str  # grid | area | none
    expected_grids: tuple[str, ...] = ()
    expected_building: str = ""
    truth: str = ""

    @property
    def expected_grid(self) -> str:
        return self.expected_grids[0] if len(self.expected_grids) == 1 else ""

    def csv(self) -> dict[str, str]:
        return {"query": self.query, "expected_grid": self.expected_grid,
                "expected_building": self.expected_building, "class": self.cls,
                "form": self.form, "expect": self.expect,
                "expected_grids": ";".join(self.expected_grids), "truth": self.truth}


def of_building(query: str, cls: str, form: str, b: Building) -> Row:
    return Row(query, cls, form, "grid", (b.grid,), b.code, b.address)


def of_grids(query: str, cls: str, form: str, grids: Iterable[str], truth: str,
             building: str = "") -> Row:
    grids = tuple(sorted(set(grids)))
    return Row(query, cls, form, "grid" if len(grids) == 1 else "area", grids, building, truth)


@dataclass
class Sizes:
    standard: int = 1000  # standard-form addresses
    per_form: int = 150  # rows of every other form


@dataclass
class Builder:
    truth: Truth
    seed: int
    sizes: Sizes
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.buildings = [b for b in self.truth.buildings if b.grid]
        self.compounds = self.truth.compounds()
        self.names = self.truth.names()
        self.villages = {a.name: a for a in self.truth.areas.values()
                         if a.level == "community" and a.name.endswith("村")}
        self.communities = {a.name: a for a in self.truth.areas.values()
                            if a.level == "community" and a.name.endswith("社区")}
        self.plates: dict[str, set[int]] = defaultdict(set)  # a road's door plates, as numbers
        for b in self.truth.buildings:
            if not b.is_village_house and b.plate.isdigit():
                self.plates[b.road].add(int(b.plate))

    def rng(self, label: str) -> random.Random:
        """A generator per form: adding a form never changes the rows of another."""
        return random.Random(f"{self.seed}:{label}")

    def parts(self, b: Building) -> f.Parts:
        return f.Parts.of(self.truth, b)

    def _each_building(self, label: str, pool: list[Building] | None = None) -> Iterator[Building]:
        pool = list(pool if pool is not None else self.buildings)
        self.rng(label).shuffle(pool)
        yield from pool

    def _take(self, rows: Iterator[Row | None], n: int | None = None) -> list[Row]:
        out: list[Row] = []
        for row in rows:
            if row is not None:
                out.append(row)
                if len(out) >= (n or self.sizes.per_form):
                    break
        return out

    def by_form(self, cls: str, form: str, writer: Callable, pool=None, n=None) -> list[Row]:
        rng = self.rng(f"{cls}:{form}")

        def rows():
            for b in self._each_building(f"{cls}:{form}", pool):
                query = writer(self.parts(b), rng)
                yield of_building(query, cls, form, b) if query else None
        return self._take(rows(), n)

    # -- the standard form and its variants -----------------------------------------------
    def standard(self) -> list[Row]:
        flats = [b for b in self.buildings if not b.is_village_house]
        houses = [b for b in self.buildings if b.is_village_house]
        n_flats = round(self.sizes.standard * 2 / 3) if houses else self.sizes.standard
        return (self.by_form("standard", "standard", f.standard, flats, n_flats)
                + self.by_form("standard", "standard_village", f.standard, houses,
                               self.sizes.standard - n_flats))

    def variants(self) -> list[Row]:
        rows = []
        for form, writer in {**f.COMPOUND_FORMS, **f.VILLAGE_FORMS}.items():
            rows += self.by_form("variant", form, writer)
        rows += self._generic_forms()
        return rows

    def _generic_forms(self) -> list[Row]:
        """A generic word added, dropped or swapped. A form never writes another compound's
        exact name. With the road and door plate the building is known whatever the name says.

        Without them, the name decides. A dropped or swapped generic word leaves possible every
        compound whose name begins with the distinctive part (the name less its generic words):
        this data has families such as 吴泰闸小区, 吴泰闸家园, 吴泰闸园, 吴泰闸府 and 吴泰闸华庭, and
        "吴泰闸4号楼" may be any of them that has a building 4. When the true compound is the only
        one, the row names its building (``generic_removed``, ``generic_swapped``); otherwise it
        is ``*_shared_core``, an ``area`` row over the grids of all of them. An added word after
        the full name (吴泰闸府小区) still names 吴泰闸府 first and is scored against it; where the
        distinctive part is shared, the row is ``generic_added_shared_core``, reported apart."""
        by_compound: dict[str, dict[str | None, str]] = defaultdict(dict)
        for b in self.buildings:
            if b.compound:
                by_compound[b.compound][b.building_no] = b.grid

        def readings(core: str, number: str | None) -> dict[str, str]:
            """The compounds a name written as ``core`` may mean, with their building's grid."""
            return {c: numbers[number] for c, numbers in by_compound.items()
                    if c.startswith(core) and number in numbers}

        rows = []
        for form, rename in (("generic_added", f.generic_added), ("generic_removed", f.generic_removed),
                             ("generic_swapped", f.generic_swapped)):
            for variant in ("", "_shared_core", "_with_road"):
                label = form + variant
                rng = self.rng(f"variant:{label}")

                def rows_of(rename=rename, variant=variant, rng=rng, label=label, form=form):
                    for b in self._each_building(f"variant:{label}"):
                        if b.is_village_house:
                            continue
                        p = self.parts(b)
                        name = rename(p, rng)
                        if not name or name in self.names:
                            continue
                        q = f.with_compound(p, name)
                        if variant == "_with_road":
                            yield of_building(f._plate(q) + name + f._flat(q), "variant", label, b)
                            continue
                        core = w.generic_core(b.compound)
                        meant = (readings(core, b.building_no) if form != "generic_added"
                                 else {c: "" for c in self.compounds if w.generic_core(c) == core})
                        if (len(meant) == 1) != (variant == ""):
                            continue
                        if variant == "" or form == "generic_added":
                            yield of_building(name + f._flat(q), "variant", label, b)
                        else:
                            yield of_grids(name + f._flat(q), "variant", label, meant.values(),
                                           b.address)
                rows += self._take(rows_of())
        return rows

    # -- typos of similar-sounding characters ---------------------------------------------
    def typos(self) -> list[Row]:
        compound_names = list(self.compounds)
        village_names = list(self.villages)

        def unique_nearest(typo: str, true: str, pool: list[str]) -> bool:
            return not any(n != true and w.one_apart(typo, n) for n in pool)

        def compound_typo(with_road: bool):
            rng = self.rng(f"typo:compound:{with_road}")
            for b in self._each_building(f"typo:compound:{with_road}"):
                if b.is_village_house:
                    continue
                typo = w.homophone_typo(b.compound, rng)
                if not typo or typo in self.names:
                    continue
                if not with_road and not unique_nearest(typo, b.compound, compound_names):
                    continue
                p = self.parts(b)
                yield of_building((f._plate(p) if with_road else "") + typo + f._flat(p), "typo",
                                  "typo_compound_with_road" if with_road else "typo_compound", b)

        def road_typo():
            rng = self.rng("typo:road")
            for b in self._each_building("typo:road"):
                if b.is_village_house:
                    continue
                keep = 2 if b.road.endswith(("公路", "大道", "大街")) else 1
                typo = w.homophone_typo(b.road, rng, keep_suffix=keep)
                if not typo or typo in self.names:
                    continue
                p = f.with_road(self.parts(b), typo)
                yield of_building(f._plate(p) + p.compound + f._flat(p), "typo", "typo_road", b)

        def village_typo():
            rng = self.rng("typo:village")
            for b in self._each_building("typo:village"):
                if not b.is_village_house:
                    continue
                typo = w.homophone_typo(b.road, rng, keep_suffix=1)
                if not typo or typo in self.names or not unique_nearest(typo, b.road, village_names):
                    continue
                p = self.parts(b)
                yield of_building(f"{p.street}{typo}{p.plate}号", "typo", "typo_village", b)

        return (self._take(compound_typo(False)) + self._take(compound_typo(True))
                + self._take(road_typo()) + self._take(village_typo()))

    # -- names with numeral characters ----------------------------------------------------
    def numeral_names(self) -> tuple[list[Row], dict]:
        numeral_compounds = {n: c for n, c in self.compounds.items() if w.has_numeral(n)}
        pool = [b for b in self.buildings if b.compound in numeral_compounds]
        sites = [s for s in self.truth.sites if s.grid and w.has_numeral(s.name)]
        areas = [a for a in self.truth.areas.values() if w.has_numeral(a.name)]
        aliases = [(a, alias) for a in self.truth.areas.values() for alias in a.aliases
                   if w.has_numeral(alias) or w.has_numeral(a.name)]
        counts = {
            "compounds": len(numeral_compounds), "compound_buildings": len(pool),
            "compound_names": sorted(numeral_compounds),
            "sites": len(sites), "site_names": sorted({s.name for s in sites}),
            "areas": {lvl: sum(a.level == lvl for a in areas) for lvl in ("street", "community", "grid")},
            "area_names": sorted(a.name for a in areas if a.level != "grid"),
            "area_aliases": [f"{a.name}={alias}" for a, alias in aliases],
            "roads": sum(w.has_numeral(r) for r in self.truth.road_names),
            "roads_in_addresses": len({b.road for b in self.truth.buildings if w.has_numeral(b.road)}),
        }
        rows = self.by_form("numeral_name", "compound_standard", f.standard, pool)
        rows += self.by_form("numeral_name", "compound_building",
                             lambda p, r: p.compound + f._flat(p, unit=False, room=False), pool)
        rows += self.by_form("numeral_name", "compound_cn_building",
                             lambda p, r: p.compound + f._flat(p, building="cn号楼", room=False), pool)
        rows += self._take(of_grids(n, "numeral_name", "compound_alone", c.grids, n)
                           for n, c in sorted(numeral_compounds.items()))
        rows += self._site_rows(sites, "numeral_name", "site_full", lambda s: s.name)
        rows += self._site_rows(sites, "numeral_name", "site_short", self._short_site_name)
        rows += self._take(of_grids(a.name, "numeral_name", f"{a.level}_alone", a.grids, a.name)
                           for a in areas if a.level == "community")
        for area, alias in aliases:  # an area's other name written in the address
            if area.level != "street":
                continue
            inside = [b for b in self.buildings if b.grid.startswith(area.code)]
            rows += self.by_form(
                "numeral_name", "street_alias",
                lambda p, r, area=area, alias=alias: f.standard(p).replace(area.name, alias, 1)
                if area.name in f.standard(p) else None, inside)
        return rows, counts

    # -- places and landmarks ---------------------------------------------------------------
    def _short_site_name(self, s: Site) -> str | None:
        district = self.truth.district.name
        if not s.name.startswith(district) or len(s.name) - len(district) < 2:
            return None
        return s.name[len(district):]

    def _site_rows(self, sites: list[Site], cls: str, form: str,
                   write: Callable[[Site], str | None], by_admin: bool = False) -> list[Row]:
        """Rows for sites, round-robin over their kinds so that no kind crowds out the others.
        A name that more than one place answers to (the same name, or another's short name, in
        several grids; with ``by_admin`` the same name in the same community) makes an ``area``
        row over all their grids."""
        def called(x: Site) -> set[str]:
            if by_admin:
                return {f"{x.address}{x.name}"}
            return {x.name, self._short_site_name(x)} - {None}

        answering: dict[str, list[Site]] = defaultdict(list)
        for x in self.truth.sites:
            if x.grid:
                for text in called(x):
                    answering[text].append(x)
        by_kind: dict[str, list[Site]] = defaultdict(list)
        for s in sites:
            by_kind[s.kind].append(s)
        rng = self.rng(f"{cls}:{form}")
        for members in by_kind.values():
            rng.shuffle(members)
        order = [s for batch in _round_robin(list(by_kind.values())) for s in batch]

        def rows():
            for s in order:
                text = write(s)
                if not text:
                    continue
                key = (f"{s.address}{s.name}" if by_admin else
                       self._short_site_name(s) if form.endswith("short") else s.name)
                grids = {x.grid for x in answering.get(key, [])} | {s.grid}
                yield of_grids(text, cls, form, grids, s.name, s.code if len(grids) == 1 else "")
        return self._take(rows())

    def landmarks(self) -> list[Row]:
        sites = [s for s in self.truth.sites if s.grid]
        gates = ("门口", "南门", "北门", "东门", "西门", "大门")
        rng = self.rng("landmark:gate")
        rows = self._site_rows(sites, "landmark", "site_full", lambda s: s.name)
        rows += self._site_rows(sites, "landmark", "site_short", self._short_site_name)
        rows += self._site_rows(sites, "landmark", "site_with_admin",
                                lambda s: f"{s.address}{s.name}" if s.address else None, by_admin=True)
        rows += self._site_rows(sites, "landmark", "site_gate", lambda s: s.name + rng.choice(gates))
        rows += self._site_rows(sites, "landmark", "site_traditional",
                                lambda s: w.traditional(s.name) if w.traditional(s.name) != s.name else None)
        rows += self._compound_gates(rng)
        rows += self._organisations()
        return rows

    def _compound_gates(self, rng: random.Random) -> list[Row]:
        names = sorted(self.compounds)
        self.rng("landmark:compound_gate").shuffle(names)
        return self._take(
            of_grids(n + rng.choice(("东门", "南门", "北门", "西门", "大门")), "landmark",
                     "compound_gate", self.compounds[n].grids, n) for n in names)

    def _organisations(self) -> list[Row]:
        """实有单位 by their registered name, by name and registered address, and by a short
        name at the door plate (戴美容美发, 环城南路1403号)."""
        building = {b.code: b for b in self.buildings}
        orgs = [o for o in self.truth.organisations if o.grid and o.building in building]
        self.rng("landmark:org").shuffle(orgs)
        named = Counter(o.name for o in self.truth.organisations)
        at_plate = Counter((_short_org(o.name), building[o.building].road, building[o.building].plate)
                           for o in orgs)
        rows = self._take(Row(o.name, "landmark", "org_full", "grid", (o.grid,), o.building, o.address)
                          for o in orgs if named[o.name] == 1)
        rows += self._take(Row(f"{o.address}{o.name}", "landmark", "org_address", "grid", (o.grid,),
                               o.building, o.address) for o in orgs if named[o.name] == 1)

        def plate_rows():
            for o in orgs:
                b = building[o.building]
                short = _short_org(o.name)
                if b.is_village_house or len(short) < 2 or at_plate[(short, b.road, b.plate)] != 1:
                    continue
                yield Row(f"{b.road}{b.plate}号{short}", "landmark", "org_plate", "grid", (o.grid,),
                          o.building, f"{o.name} @ {o.address}")
        return rows + self._take(plate_rows())

    # -- areas: a village, a community, a compound named alone --------------------------------
    def areas(self) -> list[Row]:
        def area_rows(pool: dict, form: str, write: Callable) -> list[Row]:
            names = sorted(pool)
            self.rng(f"area:{form}").shuffle(names)
            return self._take(
                of_grids(text, "area", form, pool[n].grids, n) if (text := write(n)) else None
                for n in names)

        def street_of(name: str, pool: dict) -> str:
            return self.truth.areas[pool[name].code[:9]].name

        def no_suffix(n: str) -> str | None:
            short = n.removesuffix("村")
            return short if len(short) >= 2 and short not in self.names else None

        v, c = self.villages, self.communities
        return (area_rows(v, "village_alone", lambda n: n)
                + area_rows(v, "village_with_street", lambda n: street_of(n, v) + n)
                + area_rows(v, "village_no_suffix", no_suffix)
                + area_rows(v, "village_committee", lambda n: n + "村委会")
                + area_rows(c, "community_alone", lambda n: n)
                + area_rows(c, "community_with_street", lambda n: street_of(n, c) + n)
                + area_rows(self.compounds, "compound_alone",
                            lambda n: n if n not in self.villages and n not in self.communities else None))

    # -- free text ----------------------------------------------------------------------------
    def free_text(self) -> list[Row]:
        rng = self.rng("free_text")

        def building_rows(village: bool):
            for b in self._each_building(f"free_text:{village}"):
                if b.is_village_house == village:
                    text, form = freetext.building_sentence(self.parts(b), rng)
                    yield of_building(text, "free_text", form, b)
        # flats in compounds twice as often as village houses (the data has the opposite)
        rows = self._take(building_rows(False), self.sizes.per_form * 2)
        rows += self._take(building_rows(True), self.sizes.per_form)
        sites = [s for s in self.truth.sites if s.grid]
        names = Counter(s.name for s in sites)
        self.rng("free_text:place").shuffle(sites)
        rows += self._take(Row(freetext.place_sentence(s.name, rng), "free_text", "place", "grid",
                               (s.grid,), s.code, s.name) for s in sites if names[s.name] == 1)
        return rows

    # -- negative controls --------------------------------------------------------------------
    def negatives(self) -> list[Row]:
        rows = self._take(self._invented_compounds(with_road=False))
        rows += self._take(self._invented_compounds(with_road=True))
        rows += self._take(self._plates_past_the_end())
        rows += self._take(self._buildings_past_the_end())
        rows += self._take(self._invented_villages())
        rows += self._take(self._other_cities(local_roads=False))
        rows += self._take(self._other_cities(local_roads=True))
        return rows

    def _absent(self, name: str) -> bool:
        core = w.generic_core(name)
        return name not in self.names and not any(
            w.one_apart(core, w.generic_core(n)) for n in self.compounds) and not any(
            core in n for n in self.names)

    def _invented_compounds(self, with_road: bool) -> Iterator[Row]:
        rng = self.rng(f"negative:compound:{with_road}")
        plates = self.plates
        roads = sorted(plates)
        for _ in range(self._attempts):
            name = rng.choice(INVENTED_FIRST) + rng.choice(INVENTED_SECOND)
            name += rng.choice(("小区", "花园", "家园", "公寓", "苑", "府"))
            if not self._absent(name):
                continue
            flat = (f"{rng.randint(1, 12)}号楼{rng.randint(1, 4)}单元"
                    f"{rng.randint(1, 18)}0{rng.randint(1, 2)}室")
            if not with_road:
                yield Row(name + flat, "negative", "invented_compound", "none", truth="(none)")
                continue
            road = rng.choice(roads)
            plate = max(plates[road]) + rng.randint(300, 3000)
            yield Row(f"{road}{plate}号{name}{flat}", "negative", "invented_compound_on_road", "none",
                      truth=f"{road}: last plate {max(plates[road])}")

    @property
    def _attempts(self) -> int:
        """How many draws a negative form may take to find its rows (names that exist are
        drawn again): bounded, so that a small city ends with fewer rows, not a hang."""
        return 50 * self.sizes.per_form

    def _plates_past_the_end(self) -> Iterator[Row]:
        plates = self.plates
        roads = sorted(plates)
        rng = self.rng("negative:plate")
        for _ in range(self._attempts if roads else 0):
            road = rng.choice(roads)
            last = max(plates[road])
            plate = last + rng.randint(max(200, last // 2), max(400, last * 2))
            yield Row(f"{road}{plate}号", "negative", "plate_past_last", "none",
                      truth=f"{road}: last plate {last}")

    def _buildings_past_the_end(self) -> Iterator[Row]:
        names = sorted(n for n, c in self.compounds.items() if all(x.isdigit() for x in c.buildings))
        rng = self.rng("negative:building")
        for _ in range(self._attempts if names else 0):
            c = self.compounds[rng.choice(names)]
            last = max(int(x) for x in c.buildings)
            no = last + rng.randint(3, 20)
            yield Row(f"{c.road}{c.plate}号{c.name}{no}号楼{rng.randint(1, 3)}单元", "negative",
                      "building_past_last", "none", truth=f"{c.name}: last building {last}")

    def _invented_villages(self) -> Iterator[Row]:
        rng = self.rng("negative:village")
        streets = sorted({a.name for a in self.truth.areas.values() if a.level == "street"})
        villages = list(self.villages)
        for _ in range(self._attempts):
            name = rng.choice(INVENTED_VILLAGE_FIRST) + rng.choice(("家庄", "家楼", "家屯", "家营", "家集",
                                                                    "家洼", "家湾")) + "村"
            if name in self.names or any(w.one_apart(name, v) for v in villages):
                continue
            prefix = rng.choice(streets) if rng.random() < 0.5 else ""
            yield Row(f"{prefix}{name}{rng.randint(1, 60)}号", "negative", "invented_village", "none",
                      truth="(none)")

    def _other_cities(self, local_roads: bool) -> Iterator[Row]:
        rng = self.rng(f"negative:city:{local_roads}")
        plates = self.plates
        local = sorted(plates)
        for _ in range(self._attempts):
            city, roads = rng.choice(OTHER_PLACES)
            if local_roads:
                road = rng.choice(local)
                plate = rng.choice(sorted(plates[road]))
                yield Row(f"{city}{road}{plate}号", "negative", "other_city_local_road", "none",
                          truth=f"{road}{plate}号 is in {self.truth.district.name}, not in {city}")
            else:
                road = rng.choice(roads)
                if road in self.names:  # a road the district has too: that is the other form
                    continue
                yield Row(f"{city}{road}{rng.randint(1, 300)}号", "negative", "other_city", "none",
                          truth="(another city)")


# Name parts for compounds that do not exist (checked against the data before use).
INVENTED_FIRST = ("紫荆", "碧桂", "翡翠", "御景", "香榭", "枫丹", "丁香", "铂悦", "融创", "蔚蓝",
                  "澜湾", "棕榈", "橄榄", "琥珀", "珊瑚", "鹭岛", "麓山", "云顶", "金茂", "星汇")
INVENTED_SECOND = ("湾", "公馆", "天著", "壹号", "上城", "半岛", "雅筑", "玺园", "悦府", "尚品")
INVENTED_VILLAGE_FIRST = ("欧阳", "司马", "上官", "诸葛", "皇甫", "东方", "令狐", "慕容", "宇文", "尉迟")
# Other cities' districts and their roads, as a neighbour's or a stranger's address reads.
OTHER_PLACES = (
    ("北京市朝阳区", ("建国路", "朝阳北路", "望京街", "工体北路")),
    ("上海市浦东新区", ("世纪大道", "张杨路", "陆家嘴环路")),
    ("济南市历下区", ("泉城路", "经十路", "解放路", "和平路")),
    ("青岛市市南区", ("香港中路", "中山路", "东海西路")),
    ("广州市天河区", ("天河路", "体育西路", "珠江新城华夏路")),
    ("山东省济宁市兖州区", ("建设东路", "九州大道", "龙桥路")),
    ("山东省曲阜市", ("静轩西路", "鼓楼北街", "春秋路")),
    ("泰安市泰山区", ("东岳大街", "迎胜东路", "灵山大街")),
)


def _round_robin(groups: list[list]) -> Iterator[list]:
    i = 0
    while any(i < len(g) for g in groups):
        yield [g[i] for g in groups if i < len(g)]
        i += 1


_ORG_PREFIX = re.compile(r"^(济宁市任城区|济宁市|济宁)")
_ORG_SUFFIX = re.compile(r"(（\d+）|\(\d+\)|\d+)$")
_ORG_LEGAL = re.compile(r"(有限责任公司|有限公司|个体户|公司)$")


def _short_org(name: str) -> str:
    """How a shop is called at its door: 济宁戴美容美发有限公司20257 → 戴美容美发."""
    return _ORG_LEGAL.sub("", _ORG_SUFFIX.sub("", _ORG_PREFIX.sub("", name)))


def build(truth: Truth, seed: int, sizes: Sizes) -> tuple[dict[str, list[Row]], dict]:
    """Every class's rows, and what the manifest says about the numeral names."""
    b = Builder(truth, seed, sizes)
    numeral_rows, numeral_counts = b.numeral_names()
    sets = {"standard": b.standard(), "variant": b.variants(), "typo": b.typos(),
            "numeral_name": numeral_rows, "landmark": b.landmarks(), "area": b.areas(),
            "free_text": b.free_text(), "negative": b.negatives()}
    return sets, numeral_counts


def write(out: Path, sets: dict[str, list[Row]], manifest: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for cls, rows in sets.items():
        with (out / SET_FILES[cls]).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, COLUMNS)
            writer.writeheader()
            writer.writerows(r.csv() for r in rows)
    manifest["counts"] = {cls: dict(sorted(Counter(r.form for r in rows).items()))
                          for cls, rows in sets.items()}
    manifest["total"] = sum(len(rows) for rows in sets.values())
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")


def read_sets(directory: Path) -> list[dict[str, str]]:
    """Every row of every set in ``directory`` (any ``*.csv`` with the columns above)."""
    rows = []
    for path in sorted(directory.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows += [dict(r, set=path.stem) for r in csv.DictReader(fh)]
    return rows
