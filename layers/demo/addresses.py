"""The demo's standard-address gazetteer (issue 21): what a district's 一标三实 data carries.

Added to the generated city (layers/demo/city.py calls :func:`add_to` last), so the city's own
draws are untouched:

- **names with numeral characters**: a few compounds are renamed 百花公寓, 千佛山小区, 三里屯,
  十里铺小区, 八一小区, 七里香苑 (九九花园 is the district's own), and a one-grid village 十里铺村 —
  names a geocoder must keep as written;
- **a standard address for every building** as parts (street, community or village, road and
  door plate, compound, building) in the ``addresses`` layer, its whole text written as GB/T 23705
  does (任城区金城街道九九花园社区共青团路9号九九花园3号楼);
- **compounds with other names**: an older name for one compound in six (棉纺厂宿舍, 粮食局家属院
  …) and the demo's story names;
- **places with names and door plates**: the schools, hospitals and parks of the dedicated grids
  and the 万达 complexes (with short names: 实验小学, 一中, 人民医院 …), markets, the gates of
  compounds (九九花园东门) and bus stops (九九花园站);
- **roads with older names** (``aliases`` on roads).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
import shapely.ops

from gis.crs import transform_geometry
from layers.interchange.dataset import Dataset

METRIC = "EPSG:4548"
DISTRICT = "任城区"
NUMERAL_COMPOUNDS = ("百花公寓", "千佛山小区", "三里屯", "十里铺小区", "八一小区", "七里香苑")
NUMERAL_VILLAGE = "十里铺村"
OLDER_NAMES = ("棉纺厂宿舍", "粮食局家属院", "供电局宿舍", "机械厂家属院", "交通局宿舍", "二轻局宿舍",
               "农机站家属院", "水利局宿舍", "邮电局家属院", "烟草公司宿舍", "人民银行宿舍", "卫生局家属院",
               "化肥厂宿舍", "运输公司家属院", "五金公司宿舍", "食品公司家属院", "第三棉纺厂宿舍",
               "建筑公司宿舍", "商业局家属院", "物资公司宿舍")
STORY_ALIASES = {"九九花园": ("久久花园",), "金华小区": ("金华苑",)}
# short names people use for the district's institutions
SHORT_NAMES = {"第一中学": ("一中", "济宁一中"), "实验小学": ("实小",), "人民医院": ("人医",),
               "第二人民医院": ("二院",), "中医院": ("中医",), "妇幼保健院": ("妇幼",),
               "第十三中学": ("十三中",), "第十五中学": ("十五中",), "外国语学校": ("外校",)}
MARKETS = ("东门菜市场", "南关农贸市场", "北关菜市场", "西门农贸市场", "古槐路菜市场", "仙营农贸市场",
           "红星菜市场", "阜桥农贸市场")
ROAD_ALIASES = {"太白楼路": ("太白楼中路",), "任城大道": ("任城路",), "红星西路": ("红星路西段",)}
GATES = ("东门", "南门", "西门", "北门")


def add_to(dataset: Dataset, grid_of: pd.Series, seed: int, district: str = DISTRICT) -> None:
    """Rename, then add the ``addresses`` layer and the roads' older names, in place.
    ``grid_of``: each building's grid code (the generator knows it); ``district``: the county's
    name, which begins every standard address."""
    rng = np.random.default_rng(seed + 21)
    buildings, areas = dataset.layers["buildings"], dataset.layers["areas"]
    _rename_compounds(buildings, grid_of, rng)
    _rename_village(dataset, grid_of)
    roads = dataset.layers["roads"]
    roads["aliases"] = [";".join(ROAD_ALIASES.get(n, ())) or None for n in roads["name"]]
    names = areas.set_index("code")["name"]
    rows = _buildings(buildings, grid_of, names, district)
    rows += _compounds(buildings, rng)
    rows += _places(dataset, buildings, grid_of, names, rng, district)
    frame = pd.DataFrame(rows)
    geometry = frame.pop("geometry")
    dataset.layers["addresses"] = gpd.GeoDataFrame(frame, geometry=list(geometry), crs="EPSG:4326")


def _rename_compounds(buildings: pd.DataFrame, grid_of: pd.Series, rng) -> None:
    """A few ordinary compounds take names with numeral characters (never a story compound)."""
    taken = set(buildings["compound"].dropna())
    pool = sorted(c for c in taken if c not in ("九九花园", "金华小区", "物资局宿舍", "红星新村",
                                                   "曲水苑"))
    wanted = [n for n in NUMERAL_COMPOUNDS if n not in taken]
    if not pool or not wanted:
        return
    chosen = rng.choice(len(pool), min(len(wanted), len(pool)), replace=False)
    for new, i in zip(wanted, sorted(chosen), strict=False):
        old = pool[i]
        mine = buildings["compound"] == old
        buildings.loc[mine, "address"] = buildings.loc[mine, "address"].str.replace(
            f"号{old}", f"号{new}", regex=False)
        buildings.loc[mine, "name"] = buildings.loc[mine, "name"].str.replace(old, new, regex=False)
        buildings.loc[mine, "compound"] = new


def _rename_village(dataset: Dataset, grid_of: pd.Series) -> None:
    """The first village of one grid whose name is nobody else's part becomes 十里铺村."""
    areas, buildings, sites = (dataset.layers[k] for k in ("areas", "buildings", "sites"))
    villages = areas[(areas.level == "community") & areas.name.str.endswith("村")]
    names = list(areas["name"])
    for row in villages.sort_values("code").itertuples():
        grids = areas[(areas.level == "grid") & (areas.parent_code == row.code)]
        if len(grids) != 1 or sum(row.name in n for n in names) != 2:  # itself and its grid
            continue
        old, new = row.name, NUMERAL_VILLAGE
        areas.loc[areas.code == row.code, "name"] = new
        areas.loc[grids.index, "name"] = grids["name"].str.replace(old, new, regex=False)
        mine = buildings["road"] == old
        buildings.loc[mine, "address"] = buildings.loc[mine, "address"].str.replace(
            old, new, regex=False)
        buildings.loc[mine, "road"] = new
        at = sites["address"].fillna("").str.endswith(old)
        sites.loc[at, "address"] = sites.loc[at, "address"].str.replace(old, new, regex=False)
        named = sites["name"].str.startswith(old)
        sites.loc[named, "name"] = sites.loc[named, "name"].str.replace(old, new, regex=False)
        return


def _point(geom) -> shapely.Point:
    return geom if geom.geom_type == "Point" else geom.representative_point()


def _buildings(buildings: pd.DataFrame, grid_of: pd.Series, names: pd.Series,
               district: str) -> list[dict]:
    """Every building's standard address, as parts and as the whole text."""
    rows = []
    for b, grid in zip(buildings.itertuples(), grid_of, strict=True):
        street, community = names.get(grid[:9]), names.get(grid[:12])
        urban = isinstance(b.compound, str)
        text = (f"{district}{street}{community}{b.road}{b.house_number}号{b.compound}{b.building_no}号楼"
                if urban else f"{district}{street}{b.road}{b.house_number}号")
        rows.append({"code": f"SA{b.code[3:]}", "kind": "building", "address": text,
                     "name": b.name if isinstance(b.name, str) else None, "street": street,
                     # a village house: its village as the address writes it (a merged village's
                     # houses keep their former village's name)
                     "community": community if urban else b.road,
                     "road": b.road if urban else None,
                     "door_plate": str(b.house_number), "compound": b.compound if urban else None,
                     "building": str(b.building_no) if urban else None, "building_code": b.code,
                     "place_kind": None, "aliases": None, "geometry": _point(b.geometry)})
    return rows


def _compounds(buildings: pd.DataFrame, rng) -> list[dict]:
    """Each compound once, with its other names: the story's, and an older name for one in six."""
    urban = buildings[buildings["compound"].notna()]
    older = list(OLDER_NAMES)
    rows = []
    for n, (compound, members) in enumerate(sorted(urban.groupby("compound"), key=lambda g: g[0])):
        aliases = list(STORY_ALIASES.get(compound, ()))
        if n % 6 == 3 and older:
            aliases.append(older.pop(0))
        hull = shapely.union_all(list(members.geometry)).centroid
        first = members.iloc[0]
        rows.append({"code": f"SC{n + 1:05d}", "kind": "compound", "address":
                     f"{first.road}{first.house_number}号{compound}", "name": compound,
                     "street": None, "community": None, "road": first.road,
                     "door_plate": str(first.house_number), "compound": compound, "building": None,
                     "building_code": None, "place_kind": None,
                     "aliases": ";".join(aliases) or None, "geometry": hull})
    return rows


def _places(dataset: Dataset, buildings: pd.DataFrame, grid_of: pd.Series, names: pd.Series,
            rng, district: str) -> list[dict]:
    """Schools, hospitals, parks, the 万达 complexes (the sites), markets, compound gates and bus
    stops: a name, short names, and — on a road — a door plate of their own."""
    plates = _DoorPlates(dataset, buildings)
    rows = []
    sites = dataset.layers["sites"]
    for s in sites[sites.kind.isin(["school", "hospital", "park", "commercial"])].itertuples():
        point = _point(s.geometry)
        short = s.name.removeprefix(district)
        aliases = ([short] if short != s.name else []) + list(SHORT_NAMES.get(short, ()))
        rows.append(_place(s.code, s.name, s.kind, aliases, point, plates))
    urban = buildings[buildings["compound"].notna()]
    centres = urban.groupby("compound").geometry.apply(
        lambda g: shapely.union_all(list(g)).convex_hull)
    for n, name in enumerate(MARKETS[:max(1, len(centres) // 12) if len(centres) else 0]):
        compound = centres.index[int(rng.integers(len(centres)))]
        point = shapely.affinity.translate(centres[compound].centroid, 0.0006, 0.0)
        rows.append(_place(f"SM{n + 1:04d}", name, "market", [], point, plates))
    for n, compound in enumerate(sorted(centres.index)):
        if n % 3:
            continue
        hull = centres[compound]
        side = GATES[n // 3 % 4]
        x0, y0, x1, y1 = hull.bounds
        edge = {"东门": (x1, (y0 + y1) / 2), "西门": (x0, (y0 + y1) / 2),
                "南门": ((x0 + x1) / 2, y0), "北门": ((x0 + x1) / 2, y1)}[side]
        gate = shapely.ops.nearest_points(hull.exterior if hull.geom_type == "Polygon" else hull,
                                          shapely.Point(edge))[0]
        rows.append(_place(f"SG{n + 1:05d}", f"{compound}{side}", "gate", [], gate, None))
        stop = shapely.affinity.translate(gate, 0.0002, 0.0002)
        rows.append(_place(f"SB{n + 1:05d}", f"{compound}站", "bus_stop", [f"{compound}公交站"],
                           stop, None))
    return rows


def _place(code: str, name: str, kind: str, aliases: list[str], point: shapely.Point,
           plates: _DoorPlates | None) -> dict:
    road, number = plates.take(point) if plates else (None, None)
    return {"code": code, "kind": "place", "address": f"{road}{number}号" if road else name,
            "name": name, "street": None, "community": None, "road": road,
            "door_plate": str(number) if number else None, "compound": None, "building": None,
            "building_code": None, "place_kind": kind, "aliases": ";".join(aliases) or None,
            "geometry": point}


class _DoorPlates:
    """Door plates for places: the nearest addressing road, numbered as the buildings are (every
    24 m, odd on the left), the next free number on the same side when one is taken."""

    def __init__(self, dataset: Dataset, buildings: pd.DataFrame):
        roads = dataset.layers["roads"]
        used_roads = set(buildings.loc[buildings["compound"].notna(), "road"])
        mine = roads[roads["name"].isin(used_roads)]
        self.names = list(mine["name"])
        self.lines = [transform_geometry(g, "EPSG:4326", METRIC) for g in mine.geometry]
        self.tree = shapely.STRtree(self.lines) if self.lines else None
        self.taken = {(r, str(n)) for r, n in zip(buildings["road"], buildings["house_number"],
                                                   strict=True)}

    def take(self, point: shapely.Point) -> tuple[str | None, int | None]:
        if self.tree is None:
            return None, None
        p = transform_geometry(point, "EPSG:4326", METRIC)
        i = int(self.tree.nearest(p))
        line = self.lines[i]
        if line.geom_type == "MultiLineString":
            line = min(line.geoms, key=lambda g: g.distance(p))
        along = line.project(p)
        a, b = line.interpolate(max(0.0, along - 0.5)), line.interpolate(min(line.length, along + 0.5))
        left = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) > 0
        base = int(along // 24) + 1
        number = 2 * base - 1 if left else 2 * base
        while (self.names[i], str(number)) in self.taken:
            number += 2
        self.taken.add((self.names[i], str(number)))
        return self.names[i], number
