"""Working examples of what a gazetteer holds (gis/gazetteer.py), one of each form people write —
what a page shows as its placeholder and its "try" links (layers/locating/geocoding.py). A reader
of the gazetteer's own tables, in a module of its own to keep gis/gazetteer.py under 600 lines."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gis.gazetteer import Gazetteer

_CN_RUN = re.compile("[〇零一二三四五六七八九十百千廿]")  # a name with numeral characters


def example_texts(gz: Gazetteer) -> Iterator[tuple[str, str]]:
    """(form, text) of addresses this gazetteer holds, a few of each form in a fixed order —
    the caller keeps the first of each that answers confidently (layers/locating)."""
    gz.complete()
    tries = 20
    standard = [form for form, i in gz._exact.items() if i is not None
                and gz.entries[i].kind == "building" and form != gz.entries[i].address]
    for form in sorted(standard, key=lambda f: (-len(f), f))[:tries]:
        yield "standard address", form
    numbered = sorted(gz.compounds.display, key=lambda c: (not _CN_RUN.search(c), c))
    for compound in numbered[:tries]:
        members = gz._by_compound.get(compound, [])
        building = min((no for i in members if (no := gz.entries[i].parts.building_no)),
                       key=int, default=None)
        if building:
            yield "building", f"{gz.compounds.display[compound]}{building}号楼2单元301室"
        yield "compound", gz.compounds.display[compound]
    for key in list(gz.places.display)[:tries]:
        yield "place", gz.places.display[key]
    villages = [v for v in gz._area_grids.values() if v[5] == "village" and len(v[2]) == 1]
    for village in villages[:tries]:
        yield "village", village[1]
    doors = [(road, n) for (road, n), members in gz._by_door.items() if len(members) == 1]
    for road, n in doors[:tries]:
        yield "door plate", f"{gz.roads.display.get(road, road)}{n}号"
