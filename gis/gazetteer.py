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
    kind: str  # "building", a site kind, or an answer about a place: compound, door_plate, interpolated
    parts: ParsedAddress
    grid_code: str | None = None
    grids: tuple[str, ...] = ()  # a place of several buildings: the grids it lies in


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
    _named: list = field(default_factory=list)  # (normalised name, entry): partial name search
    _by_name: dict = field(default_factory=lambda: defaultdict(list))
    _by_road: dict = field(default_factory=lambda: defaultdict(list))  # road → numbered entries

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
            if parts.road and parts.house_number and parts.house_number.isdigit():
                self._by_road[parts.road].append(i)
        if name and kind != "building":
            key = normalise(name)
            self._sites.add(key)
            self._by_site[key].append(i)
        if isinstance(name, str) and name:
            key = normalise(name)
            self._named.append((key, i))
            self._by_name[key].append(i)

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
        bare = not (q.building_no or q.house_number or q.unit or q.room)  # a name, no number
        if not evidence and bare and len(self._by_name.get(normalise(q.compound or q.normalised),
                                                           [])) == 1:
            return q, self._by_names(q, limit)  # a place by its full name
        if not evidence and q.compound and not q.building_no:
            place = self._compound(q)
            if place is not None:
                return q, [place]
        if not evidence:
            for site, edits in self._sites.match(normalise(q.compound or q.normalised)):
                for i in self._by_site.get(site, []):
                    evidence[i]["site"] = edits
        if not evidence and bare:
            found = self._by_names(q, limit)
            if found:
                return q, found
        if not evidence and q.road and q.house_number and not q.compound:
            place = self._interpolated(q)
            if place is not None:
                return q, [place]
        if q.road and q.house_number and not q.compound and not q.building_no \
                and len(evidence) > 1 and all("road" in ev for ev in evidence.values()):
            return q, [self._together(f"doorplate:{q.road}{q.house_number}号",
                                      f"{q.road}{q.house_number}号", "door_plate",
                                      sorted(evidence), min(ev["road"] for ev in evidence.values()))]

        scored = sorted(((self._score(q, self.entries[i], ev), i) for i, ev in evidence.items()),
                        key=lambda t: (-t[0], self.entries[t[1]].code))
        scored = self._penalise_ties(scored)
        return q, [(self.entries[i], round(s, 3)) for s, i in scored[:limit]]

    # -- answers about a place of several buildings ----------------------------------------------
    def _together(self, code: str, label: str, kind: str, members: list[int],
                  edits: int) -> tuple[Entry, float]:
        """One answer for several buildings (a compound, a door plate): confident when they all
        lie in one grid — then the grid is certain even though the building is not."""
        entries = [self.entries[i] for i in members]
        grids = tuple(sorted({e.grid_code for e in entries if e.grid_code}))
        lon = sum(e.lon for e in entries) / len(entries)
        lat = sum(e.lat for e in entries) / len(entries)
        one = len(grids) == 1
        score = (0.85 if one else 0.6) * (1.0 if edits == 0 else 0.9)
        return (Entry(code, label, label, lon, lat, kind, self.parse(label),
                      grids[0] if one else None, grids), round(score, 3))

    def _compound(self, q: ParsedAddress) -> tuple[Entry, float] | None:
        matches = self._compounds.match(q.compound)
        if len(matches) != 1:
            return None  # unknown, or one edit away from several: no answer beats a wrong one
        compound, edits = matches[0]
        return self._together(f"compound:{compound}", compound, "compound",
                              self._by_compound[compound], edits)

    def _by_names(self, q: ParsedAddress, limit: int) -> list[tuple[Entry, float]]:
        """A place by its name or a part of it (实验小学 → 实验小学教学楼): the exact name first;
        a part confidently only when it names one place."""
        text = normalise(q.compound or q.normalised)
        if len(text) < 2:
            return []
        exact = self._by_name.get(text, [])
        if exact:
            return [(self.entries[i], 0.95 if len(exact) == 1 else 0.6) for i in exact[:limit]]
        hits = [i for name, i in self._named if text in name]
        if not hits:
            return []
        places = {self.entries[i].parts.compound or self.entries[i].code for i in hits}
        coverage = max(len(text) / len(self.entries[i].name or text) for i in hits)
        score = (0.85 if len(places) == 1 else 0.55) * (0.9 + 0.1 * coverage)
        hits.sort(key=lambda i: (len(self.entries[i].name or ""), self.entries[i].code))
        return [(self.entries[i], round(min(score, 0.9), 3)) for i in hits[:limit]]

    def _interpolated(self, q: ParsedAddress) -> tuple[Entry, float] | None:
        """A door plate on a known road with no building record: placed between the nearest
        numbers on the same side of the road (odd and even numbers face each other), never
        confidently — the grid there is a good guess, not a fact."""
        if not q.house_number.isdigit():
            return None
        matches = self._roads.match(q.road)
        if len(matches) != 1:
            return None
        road = matches[0][0]
        n = int(q.house_number)
        side = [i for i in self._by_road.get(road, [])
                if int(self.entries[i].parts.house_number) % 2 == n % 2]
        if not side:
            return None
        below = max((i for i in side if int(self.entries[i].parts.house_number) < n),
                    key=lambda i: int(self.entries[i].parts.house_number), default=None)
        above = min((i for i in side if int(self.entries[i].parts.house_number) > n),
                    key=lambda i: int(self.entries[i].parts.house_number), default=None)
        if below is None or above is None:
            nearest = below if above is None else above
            lon, lat, score = self.entries[nearest].lon, self.entries[nearest].lat, 0.4
        else:
            a, b = self.entries[below], self.entries[above]
            na, nb = int(a.parts.house_number), int(b.parts.house_number)
            t = (n - na) / (nb - na)
            lon, lat, score = a.lon + t * (b.lon - a.lon), a.lat + t * (b.lat - a.lat), 0.6
        label = f"{road}{n}号"
        return Entry(f"interpolated:{label}", label, None, lon, lat, "interpolated",
                     self.parse(label)), score

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
