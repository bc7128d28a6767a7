"""The standard-address gazetteer: buildings and places by their address parts and names, and the
promise that a **confident answer is never wrong**.

Every building has its standard address as parts (street, community, road and door plate,
compound, building — gis/address.py); every place (a school, a market, a compound's gate, a bus
stop, a reception room) its name, other names and, where it has one, a door plate; every village
and community its grids. A query is parsed with the same code and met part by part: the names
through :class:`gis.name_index.NameIndex` (exact, other name, generic words added or swapped,
one character off), the numbers exactly — a building number is never relaxed (曲水苑1号楼 is not
曲水苑10号楼).

An answer is ``confident`` (score ≥ :data:`CONFIDENT`) only when

1. something distinctive names it: the compound's or place's name exactly (or with generic words
   added, or its distinctive part when no other name shares it), or the road and door plate
   exactly, or the village and house number;
2. nothing in the query contradicts it (another road, door plate, street or community);
3. the building exists — a compound without the building asked for is ``building not found``;
4. nothing else scores close (``ambiguous``).

A place of several buildings — a compound, a door plate, a village — is answered as one
candidate with its ``grids``; it is confident when its grid is certain (one grid). Everything
else comes back ranked below :data:`CONFIDENT` with the reason (gis/gazetteer_terms.py).
Why this module is long: the rules and the answers about places of several buildings share them.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gis.address import ParsedAddress, Vocabulary, clean, fold, normalise, parse, within_one_edit
from gis.gazetteer_terms import MARGIN, Entry, Match, flagged
from gis.gazetteer_terms import Evidence as _Evidence
from gis.gazetteer_terms import ambiguous as _ambiguous
from gis.gazetteer_terms import canonical as _canon
from gis.gazetteer_terms import scored as _match
from gis.name_index import (
    ADDED,
    COMPOUND_WORDS,
    CORE,
    EXACT,
    NEAR,
    PLACE_WORDS,
    ROAD_WORDS,
    VILLAGE_WORDS,
    NameIndex,
)

_FACTOR = {EXACT: 1.0, ADDED: 0.97, CORE: 0.9, NEAR: 0.75}
_REGISTER_TAIL = re.compile(r"(?:(\d+)单元(\d+)室|（(\d+)户）)$")  # how a register ends an address
_PREFIX_WORDS = ("市", "区", "县")  # a place's name written with its city or district first
# a site's or compound's gate, or its entrance (门口)
_GATE = re.compile("(?:(?:东北|东南|西北|西南|[东西南北正大侧后])门|门口|门前)$")
_NOT_BEFORE_PREFIX = "超菜夜小社园景校厂学"  # 超市, 菜市场, 小区, 社区 … are not a city or district
_ByName = defaultdict[str, list[int]]  # a name → positions in Gazetteer.entries
_ByPair = defaultdict[tuple[str, str], list[int]]  # (a name, a number) → positions
_Area = tuple[str, str, tuple[str, ...], float, float, str]  # code, name, grids, lon, lat, kind
_Organisation = tuple[str, str, str, float, float, str | None]  # add_organisation's arguments
_INDEXING = threading.Lock()  # one gazetteer's organisations indexed at a time (complete())


class Incomplete(Exception):
    """A search needs the organisations put off in a copy that may not index them (a forked worker)."""


@dataclass
class Gazetteer:
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    entries: list[Entry] = field(default_factory=list)
    compounds: NameIndex = field(default_factory=lambda: NameIndex(COMPOUND_WORDS))
    roads: NameIndex = field(default_factory=lambda: NameIndex(ROAD_WORDS))
    villages: NameIndex = field(default_factory=lambda: NameIndex(VILLAGE_WORDS))
    places: NameIndex = field(default_factory=lambda: NameIndex(PLACE_WORDS))
    areas: NameIndex = field(default_factory=lambda: NameIndex(("社区", "居委会")))
    _by_building: _ByPair = field(default_factory=lambda: defaultdict(list))  # (compound, building)
    _by_compound: _ByName = field(default_factory=lambda: defaultdict(list))
    _by_door: _ByPair = field(default_factory=lambda: defaultdict(list))  # (road, door plate)
    _by_village_no: _ByPair = field(default_factory=lambda: defaultdict(list))  # (village, number)
    _by_village: _ByName = field(default_factory=lambda: defaultdict(list))
    _by_place: _ByName = field(default_factory=lambda: defaultdict(list))
    _by_road: _ByName = field(default_factory=lambda: defaultdict(list))  # road → plain-numbered door plates
    _orgs_at_door: _ByPair = field(default_factory=lambda: defaultdict(list))  # organisations
    _area_grids: dict[str, _Area] = field(default_factory=dict)  # a village's or community's
    _named: list[tuple[str, int]] = field(default_factory=list)  # (clean name, entry): by part of it
    _exact: dict[str, int | None] = field(default_factory=dict)  # an address as stored → entry
    _aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a road's/village's other names
    extras: dict[str, Any] = field(default_factory=dict)  # made from the index once, when first needed
    _later: list[_Organisation] = field(default_factory=list)  # organisations not indexed yet
    may_index: bool = True  # False: complete() raises Incomplete instead of indexing

    @classmethod
    def for_district(cls, district_names: Sequence[str], street_names: Sequence[str],
                     communities: Sequence[str] = (), roads: Sequence[str] = (),
                     aliases: dict[str, tuple[str, ...]] | None = None,
                     parents: tuple[str, ...] = ()) -> Gazetteer:
        """The names the parser cuts at: the district's own (dropped), its streets, communities
        and villages, and roads; ``aliases``: a street's, community's or road's other names;
        ``parents``: the district's province and city (gis/divisions.py) — any other written
        before an address makes it another district's."""
        return cls(vocabulary=Vocabulary.of(district_names, street_names, communities, roads,
                                            aliases, parents),
                   _aliases={normalise(k): tuple(v) for k, v in (aliases or {}).items()})

    def parse(self, text: str) -> ParsedAddress:
        return parse(text, self.vocabulary)

    # -- building the index --------------------------------------------------------------------
    def add(self, code: str, address: str, name: str | None, lon: float, lat: float,
            kind: str = "building", grid_code: str | None = None, *,
            parts: dict | None = None, aliases: tuple[str, ...] = (), forms: tuple[str, ...] = ()) -> Entry:
        """A building (``kind="building"``) or a place. ``parts``: the standard address's parts
        when the data has them (else the address is parsed); ``aliases``: a place's other names;
        ``forms``: other ways the data writes the whole address (the standard address in full)."""
        self.complete()  # organisations put off come after what was added before them
        name = name if isinstance(name, str) and name else None  # NaN from a data frame
        address = address if isinstance(address, str) else ""
        if parts:
            parsed = ParsedAddress(normalise(address), **{k: _canon(k, v) for k, v in parts.items()
                                                          if v not in (None, "")})
        else:
            parsed = self.parse(address)
        entry = Entry(code, address, name, lon, lat, kind, parsed, grid_code)
        i = len(self.entries)
        self.entries.append(entry)
        p = parsed
        if kind == "building" and p.compound:
            self.compounds.add(p.compound)
            self._by_compound[p.compound].append(i)
            if p.building_no:
                self._by_building[(p.compound, p.building_no)].append(i)
        if p.road and p.house_number:
            self.roads.add(p.road, None, self._aliases.get(p.road, ()))
            self._by_door[(p.road, p.house_number)].append(i)
            if p.house_number.isdigit():
                self._by_road[p.road].append(i)
        if p.village:
            self.villages.add(p.village, None, self._aliases.get(p.village, ()))
            self._by_village[p.village].append(i)
            if p.house_number:
                self._by_village_no[(p.village, p.house_number)].append(i)
        if name and kind != "building":
            key = clean(name)
            forms = (*aliases, *self._short_names(key))
            self.places.add(key, name, forms)
            self._by_place[key].append(i)
        if name:
            self._named.append((clean(name), i))
        for form in {address, *forms} - {""}:
            self._exact[form] = None if form in self._exact else i  # None: not unique
        return entry

    def _short_names(self, key: str) -> tuple[str, ...]:
        """A place written without the district's or city's name: 任城区实验小学 → 实验小学,
        济宁市第一中学 → 第一中学 (never 华联超市金城店 → 金城店)."""
        for prefix in self.vocabulary.drop_prefixes:
            if key.startswith(prefix) and len(key) > len(prefix) + 1:
                return (key[len(prefix):],)
        for word in _PREFIX_WORDS:
            cut = key.find(word)
            if 1 < cut < 4 and len(key) > cut + 3 and key[cut - 1] not in _NOT_BEFORE_PREFIX \
                    and key[cut + 1] != "场":
                return (key[cut + 1:],)
        return ()

    def add_organisation(self, building: str, name: str, address: str, lon: float, lat: float,
                         grid_code: str | None) -> None:
        """An organisation of the register (a company, a shop): found by its name and, at its
        door plate, by a part of its name; the answer is its ``building``. A name a site in the
        same grid already has stays the site's; a site of that name in another grid (任城区北湖
        湿地公园, the park and its managing unit's office) makes the name ambiguous."""
        key = clean(name)
        if len(key) < 2 or (key in self.places and grid_code in {
                self.entries[i].grid_code for i in self._by_place.get(key, ())}):
            return  # a reception room registered as an organisation: the site answers
        i = len(self.entries)
        self.entries.append(Entry(building, address, name, lon, lat, "organisation",
                                  ParsedAddress(key), grid_code))
        self.places.add(key, name, self._short_names(key))
        self._by_place[key].append(i)
        self._named.append((key, i))
        p = self.parse(address)
        if p.road and p.house_number:
            self._orgs_at_door[(p.road, p.house_number)].append(i)

    def organisations_later(self, organisations: Sequence[_Organisation]) -> None:
        """Organisations indexed when a search first needs them (a register's own form never does)."""
        self._later.extend(organisations)

    def complete(self) -> None:
        """Index the organisations put off, once; a search meanwhile waits for them."""
        if not self._later:
            return
        if not self.may_index:
            raise Incomplete("the organisations' names are not indexed in this copy")
        with _INDEXING:
            for organisation in self._later:  # empty when another thread did it meanwhile
                self.add_organisation(*organisation)
            self._later = []

    def name_compound(self, compound: str, written: str | None, aliases: tuple[str, ...]) -> None:
        """A compound's name as written and its other names (older names, common ones)."""
        canonical = normalise(compound)
        if canonical in self.compounds:
            if written:
                self.compounds.display[canonical] = written
            self.compounds.add(canonical, None, aliases)

    def add_area(self, code: str, name: str, grids: tuple[str, ...], lon: float, lat: float,
                 aliases: tuple[str, ...] = ()) -> None:
        """A community or a village with its grids: a village's name alone answers the village."""
        key = normalise(name)
        village = key.endswith("村") or key in self.villages
        (self.villages if village else self.areas).add(key, name, aliases)
        kind = "village" if village else "community"
        self._area_grids[key] = (code, name, tuple(sorted(grids)), lon, lat, kind)

    def name_forms(self) -> set[str]:
        """Every name known, in every form it answers: what marks an address in free text."""
        self.complete()
        v = self.vocabulary
        return {*v.drop_prefixes, *v.streets.forms(), *v.communities.forms(), *v.roads.forms(),
                *self.compounds.forms(), *self.roads.forms(), *self.villages.forms(),
                *self.places.forms(), *self.areas.forms()}

    # -- search --------------------------------------------------------------------------------
    def search(self, text: str, limit: int = 5) -> tuple[ParsedAddress, list[Match]]:
        """The parsed query and the best candidates, best first (at most ``limit``)."""
        fast = self.register_form(text)
        if fast is not None:
            return fast
        self.complete()
        q = self.parse(text)
        evidence = self._evidence(q)
        several_at_door = (q.road and q.house_number and not q.building_no and len(evidence) > 1)
        if evidence and not several_at_door:
            found = self._rank(q, evidence, limit)
        else:
            found = self._places_of_several(q, limit)
        if not (found and found[0].confident):
            found = self._landmark(q, limit) or found
        if q.other_district:  # 济南市历下区古槐路1063号: a road of the same name, another district
            found = flagged(found, "other district")
        return q, found

    def _landmark(self, q: ParsedAddress, limit: int) -> list[Match]:
        """What people name that is not an address: a site's or compound's gate (书香府北门 — the
        compound's answer), a place's full name after its street or community (长沟镇南高庄村
        南高庄村网格会客厅 — the longest place name the text ends with), an organisation at its
        door plate by its name or short name (共青团路831号程装饰)."""
        text = q.normalised
        gate = _GATE.search(text)
        at_gate: list[Match] = []
        if gate and gate.start() >= 2:
            _q, at_gate = self.search(text[:gate.start()], limit)
            if at_gate and at_gate[0].confident:
                return at_gate
        if q.road and q.house_number and (q.compound or q.rest):
            name = clean(q.compound or q.rest)
            members = [i for road in self.roads.lookup(q.road)[1]
                       for i in self._orgs_at_door.get((road, q.house_number), ())
                       if name in clean(self.entries[i].name or "")]
            if members:
                one = len({self.entries[i].code for i in members}) == 1
                return [_match(self.entries[i], 0.9, None if one else "ambiguous")
                        for i in members[:limit]]
        for k in range(len(text) - 1):  # the longest place name the text ends with
            names = self.places.exact(text[k:])
            if names and (k == 0 or len(text) - k >= 4):
                members = [i for key in names for i in self._by_place[key]]
                one = len(members) == 1
                return [_match(self.entries[i], 0.95, None if one else "ambiguous")
                        for i in members[:limit]]
        return at_gate  # the gate of a place named ambiguously: its candidates

    def register_form(self, text: str) -> tuple[ParsedAddress, list[Match]] | None:
        """An address exactly as a building's address is stored, with nothing after it but a
        unit and room (or a household: （2户）): the register's own form, answered without the
        general rules — a test holds it to their answer on every building of the demo."""
        unit = room = None
        i = self._exact.get(text)
        if i is None:
            m = _REGISTER_TAIL.search(text)
            if m is None:
                return None
            i = self._exact.get(text[:m.start()])
            if i is None:
                return None
            unit, room = (m.group(1), m.group(2)) if m.group(1) else (None, m.group(3))
        entry = self.entries[i]
        if entry.kind != "building":
            return None
        parsed = object.__new__(ParsedAddress)  # a copy of the building's parts (copy() is slower)
        parsed.__dict__ = dict(entry.parts.__dict__)
        if room:
            parsed.normalised += f"{unit}单元{room}室" if unit else f"{room}户"
            parsed.unit, parsed.room = unit, room
        return parsed, [Match(entry, 1.0)]

    def _evidence(self, q: ParsedAddress) -> dict[int, _Evidence]:
        """Every building or place the query's parts name, with how they met it."""
        found: dict[int, _Evidence] = {}
        if q.village and q.house_number and not q.building_no and (q.unit or q.room) \
                and self.villages.lookup(q.village)[0] not in (EXACT, ADDED) \
                and self.compounds.lookup(q.village)[0] in (EXACT, ADDED):
            # 越河新村3号3单元: a compound named like a village, with a unit: its building
            q.compound, q.building_no = q.village, q.house_number
            q.village = q.house_number = q.group = None
        compound_level, compounds = self.compounds.lookup(q.compound)
        road_level, roads = self.roads.lookup(q.road)
        named = self.compounds.lookup(q.road) if (
            q.road and road_level not in (EXACT, ADDED) and not q.compound and q.house_number
            and not q.building_no) else (-1, [])
        if named[0] in (EXACT, ADDED) and (q.unit or q.room):
            road_level = -1  # 东方里2号3单元: a compound ending like a road (里), with a unit
        if q.road and road_level < 0 and not q.compound and q.house_number and not q.building_no:
            # 曲水苑3号: what looked like a road without its suffix is a compound's building
            level, names = named
            if level >= 0:
                q.compound, q.building_no, q.road, q.house_number = q.road, q.house_number, None, None
                compound_level, compounds, road_level, roads = level, names, -1, []
            else:
                level, names = self.villages.lookup(q.road)
                if level in (EXACT, ADDED, CORE):  # 张庄128号: a village without its 村
                    q.village, q.road = names[0] if len(names) == 1 else q.road, None
                    road_level, roads = -1, []
        if q.compound and q.building_no:
            for name in compounds:
                for i in self._by_building.get((name, q.building_no), ()):
                    ev = found.setdefault(i, _Evidence())
                    ev.compound = compound_level
        if q.road and q.house_number:
            for road in roads:
                for i in self._by_door.get((road, q.house_number), ()):
                    e = self.entries[i].parts
                    if q.building_no and e.building_no != q.building_no:
                        continue  # never another building number
                    ev = found.setdefault(i, _Evidence())
                    ev.road = road_level
        if q.village and q.house_number:
            level, names = self.villages.lookup(q.village)
            for name in names:
                for i in self._by_village_no.get((name, q.house_number), ()):
                    found.setdefault(i, _Evidence()).village = level
        if not found and not q.building_no and not q.house_number:
            place = q.compound or (q.rest if not (q.road or q.village) else None)
            level, names = self.places.lookup(clean(place) if place else None)
            if level in (EXACT, ADDED):
                for key in names:
                    for i in self._by_place.get(key, ()):
                        found.setdefault(i, _Evidence()).place = level
        for i, ev in found.items():
            self._weigh(q, self.entries[i], ev, compound_level)
        return found

    def _weigh(self, q: ParsedAddress, e: Entry, ev: _Evidence, compound_level: int) -> None:
        """Score one candidate and decide whether something distinctive names it (rule 1) and
        whether the query contradicts it (rule 2)."""
        p = e.parts
        raw = 1.0
        if ev.place is not None:
            ev.identified = ev.place in (EXACT, ADDED)
            raw *= _FACTOR[ev.place] * (0.99 if e.kind == "organisation" else 1.0)  # site first
        if q.compound and ev.place is None:
            if ev.compound is not None:
                raw *= _FACTOR[ev.compound]
                if ev.compound == NEAR:
                    raw *= self.compounds.closeness(q.compound, p.compound or "")
                ev.identified |= ev.compound in (EXACT, ADDED) or (
                    ev.compound == CORE and self.compounds.unique_core(p.compound or ""))
            elif p.compound == q.compound or (p.compound and self.compounds.lookup(q.compound)[1]
                                              == [p.compound]):
                ev.identified |= not q.building_no and not q.road
            elif p.compound and self._near_names(q.compound, p.compound):
                raw *= _FACTOR[NEAR]  # the door plate's compound, one character off
            else:
                raw *= 0.6
                ev.conflicts += 1
        if q.road:
            if ev.road is not None:
                raw *= 1.0 if ev.road == EXACT else 0.95
                if ev.road in (EXACT, ADDED) and q.house_number == p.house_number:
                    ev.identified = True  # the door plate names it
            elif p.road and self._near_names(q.road, p.road, self.roads):
                raw *= 0.95
            elif p.road:
                raw *= 0.6
                ev.conflicts += 1
            else:
                raw *= 0.9
        if q.house_number and p.house_number and q.house_number != p.house_number:
            raw *= 0.7
            ev.conflicts += 1
        if ev.village is not None:
            raw *= _FACTOR[ev.village]
            ev.identified |= ev.village in (EXACT, ADDED) or ev.village == CORE
        for mine, theirs in ((q.street, p.street), (q.community, p.community)):
            if mine and theirs and mine != theirs and fold(mine) != fold(theirs):
                raw *= 0.7
                ev.conflicts += 1
        ev.raw = raw

    def _near_names(self, a: str, b: str, index: NameIndex | None = None) -> bool:
        index = index or self.compounds
        return (a == b or within_one_edit(a, b) or within_one_edit(fold(a), fold(b))
                or index.cores(a) == index.cores(b))

    def _rank(self, q: ParsedAddress, evidence: dict[int, _Evidence], limit: int) -> list[Match]:
        ranked = sorted(evidence.items(), key=lambda kv: (-kv[1].raw, self.entries[kv[0]].code))
        out = []
        best = ranked[0][1].raw
        for i, ev in ranked[:limit]:
            close = [j for j, other in ranked if j != i and other.raw >= ev.raw - MARGIN]
            reason = None
            if ev.conflicts:
                reason = "contradicts"
            elif close or ev.raw < best:
                reason = "ambiguous"
            elif not ev.identified:
                reason = "approximate name"
            out.append(_match(self.entries[i], ev.raw, reason))
        return out

    # -- answers about a place of several buildings ----------------------------------------------
    def _places_of_several(self, q: ParsedAddress, limit: int) -> list[Match]:
        """No building named: the compound, door plate, village or community as one answer each
        (with its grids), a place by part of its name, or a door plate between known ones."""
        if q.compound and q.building_no:
            return self._building_not_found(q, limit)
        if q.road and q.house_number:
            level, roads = self.roads.lookup(q.road)
            plates = [self._door_plate(road, q.house_number, level, q.compound) for road in roads]
            answers = [a for a in plates if a is not None]
            if answers:
                return _ambiguous(answers)[:limit]
            if len(roads) == 1:
                found = self._interpolated(roads[0], q.house_number)
                if found is not None:
                    return [found]
        if q.village and q.house_number:
            level, in_village = self._area(q.village)
            return [_match(m.entry, min(m.score, 0.6), "building not found") for m in in_village]
        name = q.compound or q.village or q.community
        if not name or q.road or q.building_no or q.house_number:
            return self._by_names(q, limit) if name and not (q.building_no or q.house_number) else []
        c_level, c_names = self.compounds.lookup(name)
        a_level, areas = self._area(name)
        levels = [lv for lv in (c_level, a_level) if lv >= 0]
        best = min(levels) if levels else -1
        if best in (EXACT, ADDED, CORE):
            answers = (self._compound_answers(c_level, c_names, limit) if c_level == best else [])
            answers += areas if a_level == best else []
            if best != CORE:
                return _ambiguous(answers)[:limit]
            places = self._by_names(q, limit)  # a place's exact name is better than a core
            if places and places[0].confident:
                return places
            return _ambiguous(answers)[:limit]
        places = self._by_names(q, limit)
        if places:
            return places
        answers = self._compound_answers(c_level, c_names, limit) if c_level == NEAR else []
        return _ambiguous(answers + (areas if a_level == NEAR else []))[:limit]

    def _together(self, code: str, label: str, kind: str, members: list[int],
                  identified: bool, raw: float) -> Match:
        """One answer for several buildings: confident when something distinctive names them
        and they all lie in one grid — then the grid is certain though the building is not."""
        entries = [self.entries[i] for i in members]
        grids = tuple(sorted({e.grid_code for e in entries if e.grid_code}))
        lon = sum(e.lon for e in entries) / len(entries)
        lat = sum(e.lat for e in entries) / len(entries)
        one = len(grids) == 1
        reason = None if identified and one else ("several grids" if identified else
                                                  "approximate name")
        entry = Entry(code, label, label, lon, lat, kind, self.parse(label),
                      grids[0] if one else None, grids)
        return _match(entry, raw * (0.9 if one else 0.7), reason)

    def _compound_answers(self, level: int, names: list[str], limit: int) -> list[Match]:
        answers = []
        for name in names[:limit]:
            identified = level in (EXACT, ADDED) or (level == CORE and len(names) == 1
                                                     and self.compounds.unique_core(name))
            answers.append(self._together(f"compound:{name}", self.compounds.display[name],
                                          "compound", self._by_compound[name], identified,
                                          _FACTOR[level]))
        return _ambiguous(answers)

    def _building_not_found(self, q: ParsedAddress, limit: int) -> list[Match]:
        """The compound is known, the building number is not: the compound, never confidently."""
        level, names = self.compounds.lookup(q.compound)
        out = []
        for name in names[:limit]:
            m = self._together(f"compound:{name}", self.compounds.display[name], "compound",
                               self._by_compound[name], False, _FACTOR[level])
            out.append(_match(m.entry, m.score, "building not found"))
        return out

    def _door_plate(self, road: str, number: str, level: int, compound: str | None = None) -> Match | None:
        """The buildings at a door plate (those of ``compound`` when it is given) as one answer."""
        members = self._by_door.get((road, number), [])
        if compound:
            members = [i for i in members if (theirs := self.entries[i].parts.compound)
                       and self._near_names(compound, theirs)]
        if not members:
            return None
        if len(members) == 1:
            reason = None if level in (EXACT, ADDED) else "approximate name"
            return _match(self.entries[members[0]], _FACTOR[level], reason)
        label = f"{self.roads.display.get(road, road)}{number}号"
        kind = "door_plate"
        if compound:
            label, kind = label + (self.entries[members[0]].parts.compound or ""), "compound"
        return self._together(f"doorplate:{road}{number}号", label, kind, members,
                              level in (EXACT, ADDED), _FACTOR[level])

    def _area(self, name: str) -> tuple[int, list[Match]]:
        """A village (or community) by its name: its grids; confident when it has one."""
        for index in (self.villages, self.areas):
            level, names = index.lookup(name)
            if level < 0:
                continue
            out = []
            for key in names:
                identified = level in (EXACT, ADDED) or (level == CORE and len(names) == 1)
                if key not in self._area_grids:
                    if key in self._by_village:  # a village known by its houses only
                        out.append(self._together(f"village:{key}", index.display[key], "village",
                                                  self._by_village[key], identified, _FACTOR[level]))
                    continue
                code, written, grids, lon, lat, kind = self._area_grids[key]
                one = len(grids) == 1
                entry = Entry(f"{kind}:{code}", written, written, lon, lat, kind,
                              ParsedAddress(key), grids[0] if one else None, grids)
                reason = None if identified and one else (
                    "several grids" if identified else "approximate name")
                out.append(_match(entry, _FACTOR[level] * (0.9 if one else 0.7), reason))
            if out:
                return level, _ambiguous(out)
        return -1, []

    def _by_names(self, q: ParsedAddress, limit: int) -> list[Match]:
        """A place by its name, one of its other names, or a part of its name (实验小学 for
        实验小学教学楼): a part confidently only when it names one place."""
        text = clean(q.compound or q.rest or q.normalised)
        if len(text) < 2:
            return []
        level, names = self.places.lookup(text)
        if level in (EXACT, ADDED):
            members = [i for key in names for i in self._by_place[key]]
            one = len(members) == 1
            return [_match(self.entries[i], _FACTOR[level], None if one else "ambiguous")
                    for i in members[:limit]]
        hits = [i for name, i in self._named if text in name]
        if not hits:
            if level == CORE or (level == NEAR and names):
                members = [i for key in names for i in self._by_place[key]]
                return [_match(self.entries[i], _FACTOR[level], "approximate name")
                        for i in members[:limit]]
            return []
        places = {self.entries[i].parts.compound or self.entries[i].code for i in hits}
        coverage = max(len(text) / len(clean(self.entries[i].name or text)) for i in hits)
        one = len(places) == 1 and coverage >= 0.5
        hits.sort(key=lambda i: (len(self.entries[i].name or ""), self.entries[i].code))
        return [_match(self.entries[i], 0.85 + 0.1 * coverage, None if one else "partial name")
                for i in hits[:limit]]

    def _interpolated(self, road: str, number: str) -> Match | None:
        """A door plate on a known road with no record: placed between the nearest numbers on
        the same side of the road (odd and even numbers face each other), never confidently —
        the grid there is a good guess, not a fact."""
        if not number.isdigit():
            return None
        n = int(number)
        plates = {i: int(no) for i in self._by_road.get(road, [])
                  if (no := self.entries[i].parts.house_number)}  # all numbered (add())
        side = [i for i, no in plates.items() if no % 2 == n % 2]
        if not side:
            return None
        below = max((i for i in side if plates[i] < n), key=plates.__getitem__, default=None)
        above = min((i for i in side if plates[i] > n), key=plates.__getitem__, default=None)
        if below is None and above is None:  # the only plates on this side bear this number
            return None
        if below is None or above is None:
            nearest = next(i for i in (below, above) if i is not None)
            lon, lat, score = self.entries[nearest].lon, self.entries[nearest].lat, 0.4
        else:
            a, b = self.entries[below], self.entries[above]
            na, nb = plates[below], plates[above]
            t = (n - na) / (nb - na)
            lon, lat, score = a.lon + t * (b.lon - a.lon), a.lat + t * (b.lat - a.lat), 0.6
        label = f"{self.roads.display.get(road, road)}{n}号"
        return Match(Entry(f"interpolated:{label}", label, None, lon, lat, "interpolated",
                           self.parse(label)), score, "between door plates")
