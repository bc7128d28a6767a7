"""An address gazetteer over buildings and sites: exact component match first, then names one
character off, and never a building whose number differs from the one asked for.

Scores are in [0, 1]. A candidate at or above :data:`CONFIDENT` is one we would act on (route a
case, show a resident their worker); ambiguous or partial matches score below it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from gis.address import ParsedAddress, deletions, normalise, parse, within_one_edit

CONFIDENT = 0.8


@dataclass
class Entry:
    code: str
    address: str
    name: str | None
    lon: float
    lat: float
    kind: str  # "building" or a site kind
    parts: ParsedAddress
    grid_code: str | None = None


class _Names:
    """Exact and one-edit lookup of a set of names (road, compound, village, site names)."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._by_deletion: dict[str, set[str]] = defaultdict(set)

    def add(self, name: str | None) -> None:
        if name and name not in self.names:
            self.names.add(name)
            for key in deletions(name):
                self._by_deletion[key].add(name)

    def match(self, name: str | None) -> list[tuple[str, int]]:
        """[(known name, edits)]: the exact name alone if known, else all names one edit away."""
        if not name:
            return []
        if name in self.names:
            return [(name, 0)]
        near = set()
        for key in deletions(name):
            near |= self._by_deletion.get(key, set())
        return sorted((n, 1) for n in near if len(n) >= 2 and within_one_edit(n, name))


@dataclass
class Gazetteer:
    drop_prefixes: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)
    _compounds: _Names = field(default_factory=_Names)
    _roads: _Names = field(default_factory=_Names)
    _villages: _Names = field(default_factory=_Names)
    _sites: _Names = field(default_factory=_Names)
    _by_building: dict = field(default_factory=lambda: defaultdict(list))
    _by_compound: dict = field(default_factory=lambda: defaultdict(list))
    _by_road_no: dict = field(default_factory=lambda: defaultdict(list))
    _by_village_no: dict = field(default_factory=lambda: defaultdict(list))
    _by_site: dict = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def for_district(cls, district_names: list[str], street_names: list[str]) -> Gazetteer:
        drops = sorted({normalise(n) for n in district_names}, key=len, reverse=True)
        streets = sorted({normalise(n) for n in street_names}, key=len, reverse=True)
        return cls(drop_prefixes=tuple(drops), streets=tuple(streets))

    def parse(self, text: str) -> ParsedAddress:
        return parse(text, drop_prefixes=self.drop_prefixes, streets=self.streets)

    def add(self, code: str, address: str, name: str | None, lon: float, lat: float,
            kind: str = "building", grid_code: str | None = None) -> None:
        parts = self.parse(address)
        entry = Entry(code, address, name, lon, lat, kind, parts, grid_code)
        i = len(self.entries)
        self.entries.append(entry)
        if kind == "building":
            self._compounds.add(parts.compound)
            self._roads.add(parts.road)
            self._villages.add(parts.village)
            if parts.compound and parts.building_no:
                self._by_building[(parts.compound, parts.building_no)].append(i)
            if parts.compound:
                self._by_compound[parts.compound].append(i)
            if parts.road and parts.house_number:
                self._by_road_no[(parts.road, parts.house_number)].append(i)
            if parts.village and parts.house_number:
                self._by_village_no[(parts.village, parts.house_number)].append(i)
        if name and kind != "building":
            key = normalise(name)
            self._sites.add(key)
            self._by_site[key].append(i)

    # -- search --------------------------------------------------------------------------------
    def search(self, text: str, limit: int = 5) -> tuple[ParsedAddress, list[tuple[Entry, float]]]:
        q = self.parse(text)
        evidence: dict[int, dict] = defaultdict(dict)

        if q.compound and q.building_no:
            for compound, edits in self._compounds.match(q.compound):
                for i in self._by_building.get((compound, q.building_no), []):
                    evidence[i]["compound"] = min(edits, evidence[i].get("compound", 9))
        if q.road and q.house_number:
            for road, edits in self._roads.match(q.road):
                for i in self._by_road_no.get((road, q.house_number), []):
                    e = self.entries[i].parts
                    if q.building_no and e.building_no != q.building_no:
                        continue  # never a different building number
                    evidence[i]["road"] = min(edits, evidence[i].get("road", 9))
        if q.village and q.house_number:
            for village, edits in self._villages.match(q.village):
                for i in self._by_village_no.get((village, q.house_number), []):
                    evidence[i]["village"] = edits
        if not evidence and q.compound and not q.building_no:
            for compound, edits in self._compounds.match(q.compound):
                for i in self._by_compound.get(compound, [])[:limit]:
                    evidence[i]["compound_only"] = edits
        if not evidence:
            for site, edits in self._sites.match(normalise(q.compound or q.normalised)):
                for i in self._by_site.get(site, []):
                    evidence[i]["site"] = edits

        scored = sorted(((self._score(q, self.entries[i], ev), i) for i, ev in evidence.items()),
                        key=lambda t: (-t[0], self.entries[t[1]].code))
        scored = self._penalise_ties(scored)
        return q, [(self.entries[i], round(s, 3)) for s, i in scored[:limit]]

    @staticmethod
    def _score(q: ParsedAddress, e: Entry, ev: dict) -> float:
        p = e.parts
        if "site" in ev:
            return 0.95 if ev["site"] == 0 else 0.8
        if "compound_only" in ev:
            return 0.5 if ev["compound_only"] == 0 else 0.4  # which building is unknown
        score = 1.0
        if "compound" in ev:
            score *= 1.0 if ev["compound"] == 0 else 0.85
        elif q.compound and p.compound:
            score *= 0.75 if within_one_edit(q.compound, p.compound) else 0.55
        elif "village" in ev:
            score *= 1.0 if ev["village"] == 0 else 0.85
        if q.road:
            if "road" in ev:
                score *= 1.0 if ev["road"] == 0 else 0.95
            elif p.road:
                score *= 0.9 if within_one_edit(q.road, p.road) else 0.6
        if q.house_number and p.house_number and q.house_number != p.house_number:
            score *= 0.7
        if q.street and p.street and q.street != p.street:
            score *= 0.7
        return score

    @staticmethod
    def _penalise_ties(scored: list[tuple[float, int]]) -> list[tuple[float, int]]:
        """Two different places that fit equally well: neither is a confident answer."""
        if len(scored) >= 2 and scored[0][0] - scored[1][0] < 0.05:
            top = scored[0][0]
            return [(s * 0.7 if top - s < 0.05 else s, i) for s, i in scored]
        return scored
