"""The Rencheng demo city: a deterministic, full-size district inside the real boundary.

``generate(scale, seed)`` builds, in the CGCS2000 Gauss–Krüger plane (metres), the 15 real 镇街,
their communities and villages, the grids, buildings with standard addresses, roads, back alleys,
cameras and sensors, sites and workers, and returns them as a :class:`Dataset` in WGS84 — the same
shape an import produces, so the demo is loaded through the same validated writer as real data.

At ``scale=1`` the totals are the reference district's: 519 communities/villages, 1,347 grid
workers (898 urban full-time, 449 rural part-time) for as many comprehensive grids, plus
dedicated grids, 481,599 households, 1,162,189 residents (99,664 floating), 金城街道 with 320
video cameras, 65 loudspeakers, 50 fume monitors, 38 reception rooms, 15 service halls, 21
construction sites, 25 key enterprises, 50 restaurants and at least 36 back alleys.

The street network is as dense as a real town's: roads along the edges of urban grids, lanes
between the rows of buildings (some of them the back alleys), roads joining neighbouring villages;
no road crosses a building. And a newcomer finds the situations planners meet (``notes`` of the
dataset): three grids overloaded by new compounds (1,000–1,400 households), a new compound's grid
still without a worker, and a village merged into its neighbour that still runs two grids.

Why this module is long: it is one generator whose steps share the state of a half-built city
(the tessellation, the road network, the households still to place); split into files, each step
would need that state passed around or made global. The names and numbers it draws on live apart,
in layers/demo/names.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import meander
from gis.crs import transform_geometry
from gis.partition import lloyd_relax, seeds_in, voronoi_partition
from gis.topology import polygonal
from layers.boundaries.areas import read_district
from layers.demo import addresses, names
from layers.demo.network import Lattice, edge_roads, village_links
from layers.interchange.dataset import Dataset

METRIC = "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E: Jining
# Counts that the seed gives for 金城街道; other streets get fewer (see _street_counts).
JINCHENG_COUNTS = {"fixed+ptz+panoramic": 320, "loudspeaker": 65, "fume_monitor": 50,
                   "reception_room": 38, "service_hall": 15, "construction_site": 21,
                   "key_enterprise": 25, "restaurant": 50, "alleys": 40}
FIELD_VILLAGES = 0.3  # of a field town's villages, those bounded by fields and rivers
PHONE_PREFIXES = ("133", "135", "137", "138", "139", "150", "151", "152", "157", "158", "159",
                  "177", "180", "182", "187", "188", "198")


@dataclass(frozen=True)
class DistrictSpec:
    """What the generator needs to know of a county-level district (区县) at scale 1."""

    code: str  # GB/T 2260, 6 digits
    name: str
    centre: tuple[float, float]  # WGS84 lon/lat of the urban core
    streets: tuple[names.StreetSpec, ...]
    households: int
    population: int
    floating: int
    urban_grids: int  # rural grids: one per village (names.StreetSpec.villages)
    dedicated_grids: int
    environment_workers: int
    safety_workers: int
    core: frozenset[str]  # the urban streets: more cameras, sites and alleys
    showcase: str | None = None  # the street with the seed's own counts (JINCHENG_COUNTS)
    # how many trailing digits of a street code its cameras, sites and alleys carry: 3 in the
    # reference district (CAM008…), 5 elsewhere, so the codes of a whole city never collide
    tag_digits: int = 5
    # towns whose villages are bounded by fields and rivers (long rings: see long_rings)
    field_towns: frozenset[str] = frozenset()

    def tag(self, street_code: str) -> str:
        return street_code[-self.tag_digits:]


# The reference district: Rencheng's own figures (the seed's) and its 15 real streets and towns.
RENCHENG = DistrictSpec(
    code="370811", name="任城区", centre=(116.59, 35.41), streets=names.STREETS,
    households=481_599, population=1_162_189, floating=99_664, urban_grids=898,
    dedicated_grids=40, environment_workers=159, safety_workers=65,
    core=frozenset({"370811008", "370811011", "370811013", "370811007", "370811012", "370811014",
                    "370811015"}),
    showcase="370811008", tag_digits=3,
    field_towns=frozenset({"370811102", "370811111"}))  # 长沟镇 by the canal, 喻屯镇 by the lake


@dataclass
class _Grid:
    code: str
    name: str
    wgs: shapely.Geometry  # what is stored: exact, shares edges with its siblings and parent
    urban: bool
    kind: str = "comprehensive"
    households: int = 0
    village: str | None = None  # the village whose door plates a rural grid's houses carry
    staffed: bool = True  # False: no grid worker yet (a planning situation of the demo)
    geom: shapely.Geometry = None  # the same in metres, for placing things

    def __post_init__(self) -> None:
        self.geom = _metric(self.wgs)


@dataclass
class _Community:
    code: str
    name: str
    wgs: shapely.Geometry
    urban: bool
    street: names.StreetSpec
    grids: list[_Grid] = field(default_factory=list)
    geom: shapely.Geometry = None
    # villages merged into this one (合村并居): (name, area) of each former village, itself first
    former: list[tuple[str, shapely.Geometry]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.geom = _metric(self.wgs)


def _metric(geom):
    return transform_geometry(geom, "wgs84", METRIC)


def _wgs(geom):
    return transform_geometry(geom, METRIC, "wgs84")


@dataclass
class _Rows:
    """Accumulates one layer's rows (attributes + geometry in metres, or in WGS84 for areas)."""

    rows: list[dict] = field(default_factory=list)
    geoms: list[shapely.Geometry] = field(default_factory=list)
    metric: bool = True

    def add(self, geom: shapely.Geometry, **attrs) -> None:
        self.rows.append(attrs)
        self.geoms.append(geom)

    def frame(self, columns: list[str]) -> gpd.GeoDataFrame:
        wgs = np.asarray(self.geoms, dtype=object)
        if self.metric:
            wgs = _wgs(wgs)
        df = pd.DataFrame(self.rows, columns=columns)
        return gpd.GeoDataFrame(df, geometry=list(wgs), crs="EPSG:4326")


def _scaled(n: float, scale: float, minimum: int = 0) -> int:
    return max(minimum, round(n * scale))


def _split_total(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to ``total`` exactly."""
    raw = weights / weights.sum() * total
    out = np.floor(raw).astype(int)
    remainder = total - out.sum()
    if remainder:
        out[np.argsort(raw - out)[::-1][:remainder]] += 1
    return out


class _Generator:
    def __init__(self, spec: DistrictSpec, boundary: shapely.Geometry, scale: float, seed: int):
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.spec = spec
        self.scale = scale
        # The hierarchy is partitioned in WGS84 itself, so the stored areas share their edges
        # exactly; transforming cells made in metres would bend shared edges by fractions of a
        # millimetre and leave slivers. Everything else is placed in metres.
        self.boundary = boundary
        self.district = _metric(boundary)
        c = transform_geometry(shapely.Point(*spec.centre), "wgs84", METRIC)
        self.centre = np.array([c.x, c.y])
        self.communities: list[_Community] = []
        self.street_geoms: dict[str, shapely.Geometry] = {}
        self.used_names: set[str] = set()
        self.areas, self.buildings, self.roads = _Rows(metric=False), _Rows(), _Rows()
        self.alleys, self.cameras, self.sites = _Rows(), _Rows(), _Rows()
        # grids whose worker is another grid's: dedicated grids, a merged village's second grid
        self.covered_by: dict[str, str] = {}
        # the planning situations staged for a newcomer to try the planner's tools on
        self.situations: dict[str, list[str]] = {"overloaded": [], "unstaffed": [], "merged": []}
        # (street code, line in metres); None for the street once the lane is a back alley
        self.lanes: list[tuple[str | None, shapely.Geometry]] = []

    # -- naming --------------------------------------------------------------------------------
    def _unique(self, candidates, fallback_suffixes=("二期", "三期", "新区", "东区", "西区")) -> str:
        for name in candidates:
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        base = candidates[0] if candidates else "新"
        for suffix in fallback_suffixes:
            if base + suffix not in self.used_names:
                self.used_names.add(base + suffix)
                return base + suffix
        n = 2
        while f"{base}{n}" in self.used_names:
            n += 1
        self.used_names.add(f"{base}{n}")
        return f"{base}{n}"

    def _person(self) -> str:
        rng = self.rng
        surname = names.SURNAMES[rng.integers(len(names.SURNAMES))]
        given = "".join(names.GIVEN[rng.integers(len(names.GIVEN))] for _ in range(rng.integers(1, 3)))
        return surname + given

    # -- hierarchy -----------------------------------------------------------------------------
    def streets(self) -> None:
        seeds = []
        for spec in self.spec.streets:
            p = shapely.Point(*(self.centre + np.array(spec.offset_km) * 1000))
            if not self.district.contains(p):
                p = shapely.ops.nearest_points(self.district.buffer(-800), p)[0]
            seeds.append((p.x, p.y))
        seeds_wgs = shapely.get_coordinates(_wgs(shapely.points(np.array(seeds))))
        cells = voronoi_partition(self.boundary, seeds_wgs)
        district = self.spec
        self.areas.add(self.boundary, code=district.code, name=district.name, level="district",
                       parent_code="", kind=None)
        for spec, cell in zip(district.streets, cells, strict=True):
            self.street_geoms[spec.code] = _metric(cell)
            self.areas.add(cell, code=spec.code, name=spec.name, level="street",
                           parent_code=district.code, kind=None)
            self._communities_of(spec, cell)

    def _communities_of(self, spec: names.StreetSpec, street_wgs: shapely.Geometry) -> None:
        street = self.street_geoms[spec.code]
        n_urban = _scaled(spec.urban_communities, self.scale)
        n_village = _scaled(spec.villages, self.scale)
        if n_urban + n_village == 0:
            n_urban, n_village = (1, 0) if spec.urban_communities else (0, 1)
        # One village of the first rural street was merged into its neighbour (合村并居): draw
        # one village more there and merge it, so the street keeps its number of villages.
        merge_here = not self.situations["merged"] and n_village >= 2
        n_village += merge_here
        candidates = seeds_in(street, 12 * (n_urban + n_village) + 20, self.rng)
        by_distance = candidates[np.argsort(np.hypot(*(candidates - self.centre).T))]
        urban_pool = by_distance[: max(n_urban * 3, 1)]
        urban: np.ndarray | list[np.ndarray] = (
            urban_pool[self.rng.choice(len(urban_pool), n_urban, replace=False)] if n_urban else [])
        rest = by_distance[max(n_urban * 3, 1):]
        if len(rest) < n_village:
            rest = by_distance
        village: np.ndarray | list[np.ndarray] = (
            rest[self.rng.choice(len(rest), n_village, replace=False)] if n_village else [])
        seeds = shapely.get_coordinates(_wgs(shapely.points(np.array([*urban, *village]))))
        seeds = lloyd_relax(street_wgs, seeds, rounds=1)
        cells = voronoi_partition(street_wgs, seeds)
        for i, cell in enumerate(cells):
            is_urban = i < n_urban
            if is_urban:
                code = f"{spec.code}{i + 1:03d}"
                stems = list(self.rng.permutation(names.COMMUNITY_STEMS))
                story = names.STORY_COMMUNITIES.get(spec.code, ())
                if i < len(story):  # the district's own places (the same draws either way)
                    name = story[i]
                    self.used_names.add(name)
                else:
                    name = self._unique([f"{s}社区" for s in stems])
            else:
                code = f"{spec.code}{200 + i - n_urban + 1:03d}"
                stems = [p + s for s in self.rng.permutation(names.VILLAGE_STEMS)
                         for p in self.rng.permutation(names.VILLAGE_PREFIXES)]
                name = self._unique([f"{s}村" for s in stems[:400]])
            self.communities.append(_Community(code, name, cell, is_urban, spec))
        if merge_here:
            self._merge_village(self.communities.pop())

    def _merge_village(self, merged: _Community) -> None:
        """``merged`` joins a neighbouring village of its street: one village, two old areas."""
        host = next((c for c in self.communities if not c.urban and c.street is merged.street
                     and c.wgs.touches(merged.wgs)), None)
        if host is None:  # no neighbour to merge into: keep it a village of its own
            self.communities.append(merged)
            return
        host.former = [(host.name, host.wgs), (merged.name, merged.wgs)]
        host.wgs = polygonal(shapely.union_all([host.wgs, merged.wgs]))
        host.geom = _metric(host.wgs)
        self.situations["merged"].append(host.code)

    def grids(self) -> None:
        urban = [c for c in self.communities if c.urban]
        n_urban_grids = max(len(urban), _scaled(self.spec.urban_grids, self.scale))
        weights = np.array([c.geom.area for c in urban]) ** 0.5 if urban else np.array([])
        per_community: np.ndarray | list[int] = (_split_total(n_urban_grids, weights) if urban else [])
        for community, k in zip(urban, per_community, strict=True):
            k = max(1, int(k))
            seeds = seeds_in(community.wgs, k, self.rng)
            seeds = lloyd_relax(community.wgs, seeds, rounds=2)
            for j, cell in enumerate(voronoi_partition(community.wgs, seeds)):
                community.grids.append(_Grid(f"{community.code}{j + 1:02d}",
                                             f"{community.name}第{j + 1}网格", cell, True))
        for community in self.communities:
            if community.urban:
                continue
            if not community.former:
                community.grids.append(_Grid(f"{community.code}01", f"{community.name}网格",
                                             community.wgs, False, village=community.name))
                continue
            # the merged village still runs its old villages as two grids, one worker for both
            for j, (village, area) in enumerate(community.former):
                label = f"{community.name}网格" if j == 0 else f"{community.name}第{j + 1}网格（原{village}）"
                community.grids.append(_Grid(f"{community.code}{j + 1:02d}", label, area, False,
                                             village=village))
            for g in community.grids[1:]:
                self.covered_by[g.code] = community.grids[0].code
        self._new_compound_grid(urban)
        self._dedicated_grids(urban)
        self._business_grid(urban)
        self._exclave()
        for community in self.communities:
            self.areas.add(community.wgs, code=community.code, name=community.name,
                           level="community", parent_code=community.street.code, kind=None)
        for community in self.communities:
            for grid in community.grids:
                self.areas.add(grid.wgs, code=grid.code, name=grid.name, level="grid",
                               parent_code=community.code, kind=grid.kind)

    def _new_compound_grid(self, urban: list[_Community]) -> None:
        """A grid split off last month for a new compound, still waiting for its worker."""
        pool = [(c, g) for c in urban for g in c.grids if g.geom.area > 250_000]
        if not pool:
            return
        community, host = pool[int(self.rng.integers(len(pool)))]
        seeds = lloyd_relax(host.wgs, seeds_in(host.wgs, 2, self.rng), rounds=2)
        kept, new = voronoi_partition(host.wgs, seeds)
        if kept.is_empty or new.is_empty:
            return
        host.wgs, host.geom = kept, _metric(kept)
        seq = len(community.grids) + 1
        community.grids.append(_Grid(f"{community.code}{seq:02d}", f"{community.name}第{seq}网格",
                                     new, True, staffed=False))
        self.situations["unstaffed"].append(community.grids[-1].code)

    def _dedicated_grids(self, urban: list[_Community]) -> None:
        """Schools, hospitals and parks as dedicated grids: enclaves cut out of an urban grid."""
        wanted = _scaled(self.spec.dedicated_grids, self.scale, minimum=1 if urban else 0)
        pool = [(c, g) for c in urban for g in c.grids if g.staffed]
        order = self.rng.permutation(len(pool))
        kinds = (("school", names.SCHOOLS), ("hospital", names.HOSPITALS), ("park", names.PARKS))
        made = 0
        for idx in order:
            if made >= wanted:
                break
            community, host = pool[idx]
            centre = host.geom.representative_point()
            w, h = self.rng.uniform(120, 200), self.rng.uniform(90, 150)
            rect = shapely.box(centre.x - w / 2, centre.y - h / 2, centre.x + w / 2, centre.y + h / 2)
            if not host.geom.buffer(-25).contains(rect):
                continue
            kind, pool_names = kinds[made % 3]
            label = self._unique([f"{self.spec.name}{n}" for n in self.rng.permutation(pool_names)])
            seq = sum(1 for g in community.grids if g.kind == "dedicated")
            rect_wgs = _wgs(rect)
            grid = _Grid(f"{community.code}{90 + seq:02d}", f"{label}专属网格", rect_wgs, True,
                         kind="dedicated")
            host.wgs = host.wgs.difference(rect_wgs)
            host.geom = _metric(host.wgs)
            community.grids.append(grid)
            self.covered_by[grid.code] = host.code
            self.sites.add(rect, code=f"SITE{grid.code}", name=label, kind=kind,
                           address=f"{community.street.name}{community.name}")
            made += 1

    def _business_grid(self, urban: list[_Community]) -> None:
        """万达商圈网格: the business district of 金城街道 as a dedicated grid of eight commercial
        complexes, cut out of the largest staffed grid there that has room (no random draws)."""
        street, label, complexes = names.BUSINESS_GRID
        pool = sorted(((c, g) for c in urban if c.street.code == street for g in c.grids
                       if g.staffed and g.kind == "comprehensive"),
                      key=lambda cg: -cg[1].geom.area)
        for community, host in pool:
            room = host.geom.buffer(-25)
            if room.is_empty:  # a large city's small grids: no room for a business district
                continue
            centre = host.geom.centroid if room.contains(host.geom.centroid) else \
                room.representative_point()
            rect = shapely.box(centre.x - 100, centre.y - 60, centre.x + 100, centre.y + 60)
            if not room.contains(rect):
                continue
            seq = sum(1 for g in community.grids if g.kind == "dedicated")
            rect_wgs = _wgs(rect)
            grid = _Grid(f"{community.code}{90 + seq:02d}", label, rect_wgs, True, kind="dedicated")
            host.wgs = host.wgs.difference(rect_wgs)
            host.geom = _metric(host.wgs)
            community.grids.append(grid)
            self.covered_by[grid.code] = host.code
            for k, name in enumerate(complexes):  # a 4 x 2 block of complexes
                x0, y0 = rect.bounds[0] + 8 + (k % 4) * 48, rect.bounds[1] + 8 + (k // 4) * 54
                self.sites.add(shapely.box(x0, y0, x0 + 40, y0 + 48), code=f"SITE{grid.code}{k + 1}",
                               name=name, kind="commercial",
                               address=f"{community.street.name}{community.name}{name}")
            return

    def _exclave(self) -> None:
        """One village owns a field inside its neighbour (飞地): a grid of two parts, and a
        village with a hole — real districts have them, and the locator must get them right."""
        villages = [c for c in self.communities if not c.urban and len(c.grids) == 1]
        for host in villages:
            owner = next((c for c in villages if c is not host and c.street is host.street
                          and c.wgs.touches(host.wgs)), None)
            if owner is None:
                continue
            m = host.geom
            p = m.representative_point()
            field_m = shapely.box(p.x - 90, p.y - 60, p.x + 90, p.y + 60)
            if not m.buffer(-30).contains(field_m):
                continue
            field_wgs = _wgs(field_m)
            host.wgs = host.wgs.difference(field_wgs)
            host.geom = _metric(host.wgs)
            host.grids[0].wgs, host.grids[0].geom = host.wgs, host.geom
            parts = list(getattr(owner.wgs, "geoms", [owner.wgs]))
            owner.wgs = shapely.MultiPolygon([*parts, field_wgs])
            owner.geom = _metric(owner.wgs)
            owner.grids[0].wgs, owner.grids[0].geom = owner.wgs, owner.geom
            self.exclave = (owner.code, host.code)
            return

    def long_rings(self) -> None:
        """Rural reality: in the field towns, some villages (FIELD_VILLAGES) are bounded by fields
        and rivers — every edge they share with a neighbour of their town is redrawn along them
        (gis/meander.py): rings of hundreds of vertices, as real district data has, where the
        tessellation drew six straight sides. Done last, from a random
        stream of its own and clear of every house and site, so that nothing else of the city
        changes: the same seed gives the same buildings, roads, workers and counts as before."""
        rng = np.random.default_rng(self.seed + 17)
        rows = {code: i for i, code in enumerate(r["code"] for r in self.areas.rows)}
        villages = [c for c in self.communities
                    if c.street.code in self.spec.field_towns and len(c.grids) == 1
                    and c.wgs.geom_type == "Polygon" and not c.wgs.interiors]
        if len(villages) < 2:
            return
        obstacles = shapely.STRtree([*self.buildings.geoms, *self.sites.geoms])
        along = rng.random(len(villages)) < FIELD_VILLAGES  # the villages along fields and rivers
        tree = shapely.STRtree([c.wgs for c in villages])
        left, right = tree.query([c.wgs for c in villages], predicate="touches")
        for i, j in sorted({(int(i), int(j)) for i, j in zip(left, right, strict=True) if i < j}):
            a, b = villages[i], villages[j]
            if a.street is not b.street:
                continue
            shared = shapely.line_merge(shapely.intersection(a.wgs.boundary, b.wgs.boundary))
            if shared.geom_type != "LineString" or len(shared.coords) != 2 \
                    or not (along[i] or along[j]):
                continue
            ends = shapely.get_coordinates(shared)
            edge = _metric(shared)
            mid = shapely.line_interpolate_point(edge, [0.2, 0.5, 0.8], normalized=True)
            others = shapely.union_all([a.geom.boundary, b.geom.boundary]).difference(
                edge.buffer(1.0))
            near = obstacles.query(edge, predicate="dwithin", distance=400.0)
            clear = min(float(shapely.distance(shapely.LineString(mid), others)) * 0.35,
                        min((float(edge.distance(obstacles.geometries[k])) for k in near),
                            default=400.0) - 15.0, 120.0)
            if clear < 20.0:
                continue
            style = "river" if rng.random() < 0.3 else "fields"
            inner = meander.redrawn_edge(ends[0], ends[1], clear, style, rng)
            redrawn = meander.replace_shared_edge(a.wgs, b.wgs, ends[0], ends[1], inner)
            if redrawn is None:
                continue
            for community, geom in zip((a, b), redrawn, strict=True):
                community.wgs, community.geom = geom, _metric(geom)
                community.grids[0].wgs, community.grids[0].geom = geom, community.geom
                for code in (community.code, community.grids[0].code):
                    self.areas.geoms[rows[code]] = geom

    # -- roads and buildings -------------------------------------------------------------------
    def road_network(self) -> None:
        urban = shapely.union_all([c.geom for c in self.communities if c.urban])
        min_x, min_y, max_x, max_y = (urban if not urban.is_empty else self.district).bounds
        spacing = 700.0
        ew = np.arange(min_y + spacing / 2, max_y, spacing)
        ns = np.arange(min_x + spacing / 2, max_x, spacing)
        lines = [((min_x - 1500, y), (max_x + 1500, y)) for y in ew]
        names_ew = list(names.ROAD_NAMES_EW)
        names_ns = list(names.ROAD_NAMES_NS)
        labels = [names_ew[i % len(names_ew)] + ("" if i < len(names_ew) else "东段")
                  for i in range(len(ew))]
        lines += [((x, min_y - 1500), (x, max_y + 1500)) for x in ns]
        labels += [names_ns[i % len(names_ns)] + ("" if i < len(names_ns) else "北段")
                   for i in range(len(ns))]
        for spec in self.spec.streets:  # a road from the centre to every suburban street and town
            if spec.code in self.spec.core:
                continue
            far = self.street_geoms[spec.code].representative_point()
            direction = np.array([far.x, far.y]) - self.centre
            start = self.centre + direction / np.linalg.norm(direction) * 3000.0
            lines.append((tuple(start), (far.x, far.y)))
            labels.append(spec.name.removesuffix("街道").removesuffix("镇") + "公路")
        street, story_road = names.STORY_ROAD  # the east-west road nearest 阜桥街道's middle
        if street in self.street_geoms and len(ew):
            middle = self.street_geoms[street].representative_point()
            nearest = int(np.argmin([abs(y - middle.y) for y in ew]))
            labels[nearest] = story_road
        self.road_lines: list[tuple[str, shapely.Geometry]] = []  # the main roads: addresses
        for coords, label in zip(lines, labels, strict=True):
            clipped = shapely.LineString(coords).intersection(self.district)
            if clipped.is_empty or clipped.length < 200:
                continue
            merged = shapely.line_merge(clipped) if clipped.geom_type != "LineString" else clipped
            self._road(merged, label)
            self.road_lines.append((label, merged))
        self.road_tree = shapely.STRtree([g for _, g in self.road_lines])
        self._grid_edge_roads()
        self._village_roads()
        # what buildings keep clear of (lanes are laid between buildings, so they need not be)
        self.clear_tree = shapely.STRtree(self.roads.geoms)

    def _road(self, geom: shapely.Geometry, label: str) -> None:
        self.roads.add(geom, code=f"RD{len(self.roads.rows) + 1:05d}", name=label)

    def _grid_edge_roads(self) -> None:
        """Urban grid boundaries follow streets: each edge between two urban grids is a road."""
        cells = [g.geom for c in self.communities if c.urban for g in c.grids]
        stems = list(self.rng.permutation(names.COMMUNITY_STEMS))
        # where a main road runs along an edge, it is the road: an edge loses a 5 m band along
        # the main roads near it (each road buffered alone; buffering their union, a lattice
        # over a whole county, took seconds to minutes)
        bands = shapely.buffer(np.array([g for _, g in self.road_lines], dtype=object), 5)
        near_tree = shapely.STRtree(bands)
        for i, edge in enumerate(edge_roads(cells, self.district)):
            near = near_tree.query(edge, predicate="intersects")
            if len(near):
                edge = edge.difference(shapely.union_all(bands[near]))
            for part in shapely.get_parts(edge):
                if part.geom_type == "LineString" and part.length >= 40:
                    self._road(part, f"{stems[i % len(stems)]}{'路' if i % 3 else '街'}")

    def _village_roads(self) -> None:
        """Every village is joined to its neighbours by a road from centre to centre (村村通)."""
        villages = [c for c in self.communities if not c.urban]
        if len(villages) < 2:
            return
        cores = np.array([[p.x, p.y] for p in (c.geom.representative_point() for c in villages)])
        for a, b in village_links(cores, [c.geom for c in villages]):
            line = shapely.LineString([cores[a], cores[b]]).intersection(self.district)
            if line.geom_type == "LineString" and line.length >= 200:
                short = (villages[a].name.removesuffix("村")[:2], villages[b].name.removesuffix("村")[:2])
                self._road(line, f"{short[0]}{short[1]}路")

    def _clear_of_roads(self, region: shapely.Geometry, distance: float) -> shapely.Geometry:
        """``region`` less a band of ``distance`` metres along the roads crossing it."""
        near = self.clear_tree.query(region, predicate="dwithin", distance=distance)
        if len(near) == 0:
            return region
        return region.difference(shapely.union_all(
            shapely.buffer(np.asarray(self.roads.geoms, dtype=object)[near], distance)))

    def _address_on_road(self, point: shapely.Point) -> tuple[str, int]:
        """Nearest road and a house number: odd on the left of the road, even on the right."""
        label, line = self.road_lines[int(self.road_tree.nearest(point))]
        if line.geom_type == "MultiLineString":
            line = min(line.geoms, key=lambda g: g.distance(point))
        along = line.project(point)
        a = line.interpolate(max(0.0, along - 0.5))
        b = line.interpolate(min(line.length, along + 0.5))
        left = (b.x - a.x) * (point.y - a.y) - (b.y - a.y) * (point.x - a.x) > 0
        base = int(along // 24) + 1
        return label, 2 * base - 1 if left else 2 * base

    def urban_buildings(self, households_by_grid: dict[str, int]) -> None:
        for community in self.communities:
            if not community.urban:
                continue
            theta = math.radians(self.rng.uniform(-12, 12))
            for grid in community.grids:
                if grid.kind != "comprehensive":
                    continue
                total = households_by_grid[grid.code]
                grid.households = total
                self._buildings_in_grid(community, grid, total, theta)

    def _rectangles(self, centres: np.ndarray, w: float, h: float, theta: float) -> np.ndarray:
        corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2],
                            [-w / 2, -h / 2]])
        rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        rings = centres[:, None, :] + corners @ rot.T
        return shapely.polygons(rings)

    def _buildings_in_grid(self, community: _Community, grid: _Grid, total: int, theta: float) -> None:
        rng = self.rng
        lattice = Lattice(grid.geom, 68.0, 36.0, theta)
        # footprints (at most 60 x 12 m) stay inside the grid and clear of the roads; the lanes
        # run between the lattice's columns and rows, so they pass between the buildings
        spots = lattice.points(self._clear_of_roads(grid.geom.buffer(-32), 32.0))
        if len(spots) == 0:  # a small grid: one building where the roads leave room
            room = self._clear_of_roads(grid.geom.buffer(-8), 32.0)
            rp = (room if not room.is_empty else grid.geom).representative_point()
            spots = np.array([[rp.x, rp.y]])
        wanted = int(np.clip(total // 45, 2, len(spots)))
        spots = spots[rng.permutation(len(spots))[:wanted]]
        if len(spots) >= 4:  # the compounds' blocks: lanes where the buildings are
            built = shapely.MultiPoint(spots).convex_hull.buffer(60).intersection(grid.geom)
            for lane in lattice.lanes(built):
                self.lanes.append((community.street.code, lane))
        spots = spots[np.lexsort((spots[:, 1], spots[:, 0]))]
        households = _split_total(total, rng.uniform(0.6, 1.4, len(spots)))
        footprints = self._rectangles(spots, rng.choice([44.0, 52.0, 60.0]), 12.0, theta)
        n_compounds = int(min(len(spots), rng.choice([1, 1, 2, 2, 3])))
        chunks = np.array_split(np.arange(len(spots)), n_compounds)
        for chunk in chunks:
            stems = [p + s for p in rng.permutation(names.COMPOUND_PREFIXES)
                     for s in rng.permutation(names.COMPOUND_SUFFIXES)][:60]
            stems += [p + s for p in rng.permutation(names.COMMUNITY_STEMS)[:10]
                      for s in rng.permutation(names.COMPOUND_SUFFIXES)[:4]]
            if "曲水苑" not in self.used_names and rng.random() < 0.05:
                stems.insert(0, "曲水苑")
            compound = self._unique(stems)
            story = names.STORY_COMPOUNDS.get(community.name)
            if story and story not in self.used_names:  # the compound the account names
                compound = story
                self.used_names.add(story)
            centre = shapely.Point(spots[chunk].mean(axis=0))
            road, number = self._address_on_road(centre)
            for b, i in enumerate(chunk, start=1):
                units = int(rng.choice([2, 3]))
                floors = max(2, math.ceil(households[i] / (units * 2)))
                self.buildings.add(
                    footprints[i], code="",
                    address=f"{road}{number}号{compound}{b}号楼", name=f"{compound}{b}号楼",
                    households=int(households[i]), floors=floors, grid=grid.code,
                    road=road, house_number=str(number), compound=compound, building_no=str(b),
                )

    def rural_buildings(self, households_by_grid: dict[str, int]) -> None:
        for community in self.communities:
            if community.urban:
                continue
            theta = math.radians(self.rng.uniform(-20, 20))
            for grid in community.grids:  # a merged village: its old villages' houses, grid by grid
                grid.households = households_by_grid[grid.code]
                self._village_houses(community, grid, grid.households, theta)

    def _village_houses(self, community: _Community, grid: _Grid, total: int, theta: float) -> None:
        area = grid.geom
        lattice = Lattice(area, 30.0, 20.0, theta)
        # a house (24 x 10 m) stays 2 m clear of the village roads
        spots = lattice.points(self._clear_of_roads(area.buffer(-15), 15.0))
        if len(spots) == 0:
            spots = lattice.points(area.buffer(-15))
        if len(spots) == 0:
            rp = area.representative_point()
            spots = np.array([[rp.x, rp.y]])
        core = area.representative_point()
        near = np.argsort(np.hypot(spots[:, 0] - core.x, spots[:, 1] - core.y))
        wanted = int(np.clip(math.ceil(total / 8), 1, len(spots)))
        spots = spots[near[:wanted]]
        if len(spots) >= 6:  # lanes between the rows of houses (village houses face lanes)
            houses = shapely.MultiPoint(spots).convex_hull.buffer(12).intersection(area)
            for lane in lattice.lanes(houses, every_u=4, every_v=3, margin=20, min_length=50):
                self.lanes.append((community.street.code, lane))
        households = _split_total(total, self.rng.uniform(0.7, 1.3, len(spots)))
        footprints = self._rectangles(spots, 24.0, 10.0, theta)
        village = grid.village or community.name
        for i in range(len(spots)):
            number = i + 1
            self.buildings.add(
                footprints[i], code="", address=f"{community.street.name}{village}{number}号",
                name=None, households=int(households[i]), floors=int(self.rng.choice([1, 1, 2])),
                grid=grid.code, road=village, house_number=str(number), compound=None,
                building_no=None,
            )

    def households(self) -> dict[str, int]:
        """Households per comprehensive grid: urban 300–500 (a few outliers), rural the rest."""
        total = _scaled(self.spec.households, self.scale, minimum=1000)
        urban = [g for c in self.communities if c.urban for g in c.grids if g.kind == "comprehensive"]
        rural = [g for c in self.communities if not c.urban for g in c.grids]
        out: dict[str, int] = {}
        for g in urban:
            r = self.rng.random()
            if r < 0.03:
                out[g.code] = int(self.rng.integers(150, 290))  # too small: planners should merge
            elif r < 0.06:
                out[g.code] = int(self.rng.integers(520, 800))  # too big: planners should split
            else:
                out[g.code] = int(self.rng.integers(300, 501))
        # new compounds moved into a few grids: well over the norm, waiting to be split
        staffed = [g for g in urban if g.staffed]
        for i in self.rng.choice(len(staffed), min(3, len(staffed)), replace=False) if staffed else []:
            out[staffed[i].code] = int(self.rng.integers(1000, 1400))
            self.situations["overloaded"].append(staffed[i].code)
        rural_total = max(total - sum(out.values()), len(rural))
        if rural:
            weights = self.rng.uniform(0.6, 1.4, len(rural))
            for g, n in zip(rural, _split_total(rural_total, weights), strict=True):
                out[g.code] = max(1, int(n))
        return out

    # -- alleys, cameras, sites ----------------------------------------------------------------
    def _street_counts(self, spec: names.StreetSpec) -> dict[str, int]:
        if spec.code == self.spec.showcase:
            base = JINCHENG_COUNTS
        elif spec.code in self.spec.core:
            base = {"fixed+ptz+panoramic": 90, "loudspeaker": 18, "fume_monitor": 14,
                    "reception_room": 10, "service_hall": spec.urban_communities,
                    "construction_site": 8, "key_enterprise": 6, "restaurant": 30, "alleys": 15}
        else:
            base = {"fixed+ptz+panoramic": 30, "loudspeaker": 10, "fume_monitor": 4,
                    "reception_room": spec.urban_communities + spec.villages // 6,
                    "service_hall": max(1, spec.urban_communities + spec.villages // 15),
                    "construction_site": 5, "key_enterprise": 15, "restaurant": 10,
                    "alleys": 4 if spec.urban_communities else 2}
        minimum = {"reception_room": 1, "service_hall": 1}
        return {k: _scaled(v, self.scale, minimum.get(k, 0)) for k, v in base.items()}

    def street_features(self) -> None:
        for spec in self.spec.streets:
            counts = self._street_counts(spec)
            communities = [c for c in self.communities if c.street.code == spec.code]
            alleys = self._alleys(spec, counts["alleys"])
            self._cameras(spec, alleys, counts)
            self._sites(spec, communities, counts)

    def _alleys(self, spec, n: int) -> list[shapely.Geometry]:
        """``n`` of the street's lanes are its back alleys (背街小巷), named and watched."""
        pool = [i for i, (street, _) in enumerate(self.lanes) if street == spec.code]
        made: list[shapely.Geometry] = []
        for i in sorted(self.rng.choice(len(pool), min(n, len(pool)), replace=False)) if pool else []:
            line = self.lanes[pool[i]][1]
            stems = [s + suffix for s in self.rng.permutation(names.ALLEY_STEMS)
                     for suffix in self.rng.permutation(names.ALLEY_SUFFIXES)]
            self.alleys.add(line, code=f"ALY{self.spec.tag(spec.code)}{len(made) + 1:04d}",
                            name=self._unique(stems))
            self.lanes[pool[i]] = (None, line)
            made.append(line)
        return made

    def lane_roads(self) -> None:
        """The lanes that are not back alleys are roads too, named after their community: 仙营三巷."""
        tree = shapely.STRtree([c.geom for c in self.communities])
        counts: dict[str, int] = {}
        for street, line in self.lanes:
            if street is None:
                continue
            hit = tree.query(line.interpolate(0.5, normalized=True), predicate="intersects")
            stem = (self.communities[int(hit[0])].name.removesuffix("社区").removesuffix("村")[:3]
                    if len(hit) else "新")
            counts[stem] = counts.get(stem, 0) + 1
            self._road(line, f"{stem}{names.chinese_number(counts[stem])}巷")

    def _cameras(self, spec, alleys: list[shapely.Geometry], counts: dict[str, int]) -> None:
        rng = self.rng
        street = self.street_geoms[spec.code]
        roads = [g.intersection(street) for _, g in self.road_lines]
        roads = [r for r in roads if not r.is_empty and r.length > 50]
        n_video = counts["fixed+ptz+panoramic"]
        seq = 0
        for i in range(n_video):
            on_alley = alleys and (i < len(alleys) * 3 or rng.random() < 0.55)
            lines = alleys if on_alley else (roads or alleys)
            if not lines:
                p = seeds_in(street, 1, rng)[0]
                point, heading = shapely.Point(p), float(rng.uniform(0, 360))
            else:
                line = lines[int(rng.integers(len(lines)))]
                if line.geom_type == "MultiLineString":
                    line = max(line.geoms, key=lambda g: g.length)
                at = rng.uniform(0.05, 0.95) * line.length
                a, b = line.interpolate(at), line.interpolate(min(line.length, at + 1.0))
                direction = math.atan2(b.y - a.y, b.x - a.x)
                forward = rng.random() < 0.5
                bearing = math.degrees(math.atan2(math.cos(direction), math.sin(direction)))
                heading = (bearing + (0 if forward else 180)) % 360
                off = 4.0
                point = shapely.Point(a.x - math.sin(direction) * off, a.y + math.cos(direction) * off)
            r = rng.random()
            kind, fov, rng_m = (("fixed", rng.uniform(60, 95), rng.uniform(50, 90)) if r < 0.6 else
                                ("ptz", 360.0, rng.uniform(100, 150)) if r < 0.85 else
                                ("panoramic", 180.0, rng.uniform(40, 70)))
            seq += 1
            self.cameras.add(point, code=f"CAM{self.spec.tag(spec.code)}{seq:05d}",
                             name=f"{spec.name}视频监控{seq:03d}", kind=kind,
                             heading_deg=round(heading, 1) % 360, fov_deg=round(fov, 1),
                             range_m=round(rng_m, 1))
        sensors = (("loudspeaker", "远程喊话器", 150.0), ("fume_monitor", "油烟监测仪", None))
        for kind, label, radius in sensors:
            for _ in range(counts[kind]):
                seq += 1
                p = seeds_in(street, 1, rng)[0]
                self.cameras.add(shapely.Point(p), code=f"CAM{self.spec.tag(spec.code)}{seq:05d}",
                                 name=f"{spec.name}{label}{seq:03d}", kind=kind, heading_deg=None,
                                 fov_deg=None, range_m=radius)

    def _sites(self, spec, communities: list[_Community], counts: dict[str, int]) -> None:
        rng = self.rng
        seq = 0
        for kind in ("reception_room", "service_hall", "construction_site", "key_enterprise",
                     "restaurant"):
            for i in range(counts[kind]):
                community = communities[i % len(communities)] if kind in (
                    "reception_room", "service_hall") else communities[int(rng.integers(len(communities)))]
                p = seeds_in(community.geom.buffer(-10) if community.geom.area > 5000 else community.geom,
                             1, rng)[0]
                seq += 1
                label = {
                    "reception_room": f"{community.name}网格会客厅" + (f"{i // len(communities) + 1}号"
                                                                   if i >= len(communities) else ""),
                    "service_hall": f"{community.name}党群服务中心" + (f"{i // len(communities) + 1}分中心"
                                                                   if i >= len(communities) else ""),
                    "construction_site": f"{community.name}{rng.choice(['安置房', '商住楼', '学校', '道路'])}"
                                         f"项目工地{seq}",
                    "key_enterprise": f"济宁{self._person()[:2]}{rng.choice(names.ENTERPRISES)}有限公司",
                    "restaurant": f"{self._person()[0]}记{rng.choice(names.RESTAURANT_WORDS)}",
                }[kind]
                # a reception room's opening hours and phone, as its door and the compound
                # boards show them (drawn without the random generator: the rest stays as it was)
                room = {"hours": RECEPTION_HOURS, "phone": f"0537-{2210000 + seq:07d}"} \
                    if kind == "reception_room" else {}
                self.sites.add(shapely.Point(p), code=f"SITE{self.spec.tag(spec.code)}{seq:05d}",
                               name=self._unique([label]), kind=kind,
                               address=f"{spec.name}{community.name}", **room)

    # -- people --------------------------------------------------------------------------------
    def workers(self) -> pd.DataFrame:
        rng = self.rng
        phones: set[str] = set()

        def phone() -> str:
            while True:
                number = rng.choice(PHONE_PREFIXES) + f"{int(rng.integers(0, 10**8)):08d}"
                if number not in phones:
                    phones.add(number)
                    return number

        rows: list[dict[str, str]] = []
        grids = sorted((g for c in self.communities for g in c.grids), key=lambda g: g.code)
        by_host: dict[str, list[str]] = {}
        for child, host in self.covered_by.items():
            by_host.setdefault(host, []).append(child)
        for g in grids:
            if g.kind != "comprehensive" or g.code in self.covered_by or not g.staffed:
                continue
            role = "full_time" if g.urban else "part_time"
            covered = [g.code, *by_host.get(g.code, [])]
            rows.append({"code": f"W{len(rows) + 1:06d}", "name": self._person(), "phone": phone(),
                         "role": role, "grid_codes": ";".join(covered)})
        codes = [g.code for g in grids]
        for role, n in (("environment", self.spec.environment_workers),
                        ("safety", self.spec.safety_workers)):
            n = min(len(codes), _scaled(n, self.scale, minimum=1))
            for chunk in np.array_split(np.array(codes), n):
                rows.append({"code": f"W{len(rows) + 1:06d}", "name": self._person(),
                             "phone": phone(), "role": role, "grid_codes": ";".join(chunk)})
        return pd.DataFrame(rows, columns=["code", "name", "phone", "role", "grid_codes"])

    def population(self, frame: gpd.GeoDataFrame) -> None:
        """Residents per building ∝ households, adding up to the district totals exactly."""
        total = _scaled(self.spec.population, self.scale, minimum=1)
        floating = _scaled(self.spec.floating, self.scale)
        hh = frame["households"].to_numpy(dtype=float)
        frame["population"] = _split_total(total, hh * self.rng.uniform(0.85, 1.15, len(hh)))
        urban = frame["compound"].notna().to_numpy()
        weights = frame["population"].to_numpy(dtype=float) * np.where(urban, 1.6, 0.5)
        frame["floating_population"] = _split_total(floating, weights + 1e-9)


RECEPTION_HOURS = "周一至周五 8:30–12:00、13:30–17:30"


def generate(boundary_path: Path, scale: float = 1.0, seed: int = 370811) -> Dataset:
    """Build the Rencheng demo district (deterministic for a given scale and seed)."""
    return generate_district(RENCHENG, read_district(boundary_path)[1], scale, seed)


def generate_district(spec: DistrictSpec, boundary: shapely.Geometry, scale: float = 1.0,
                      seed: int = 370811) -> Dataset:
    """Build the demo inside one county-level ``boundary`` (WGS84) as ``spec`` describes it;
    deterministic for a given spec, boundary, scale and seed."""
    if not 0 < scale <= 8:
        raise ValueError(f"scale must be in (0, 8], got {scale}")
    gen = _Generator(spec, boundary, scale, seed)
    gen.streets()
    gen.grids()
    gen.road_network()
    households = gen.households()
    gen.urban_buildings(households)
    gen.rural_buildings(households)
    gen.street_features()
    gen.lane_roads()
    gen.long_rings()

    buildings = gen.buildings.frame(["code", "address", "name", "households", "floors", "grid",
                                     "road", "house_number", "compound", "building_no"])
    buildings["code"] = [f"BLD{i + 1:07d}" for i in range(len(buildings))]
    gen.population(buildings)
    grid_of = buildings.pop("grid")
    areas = gen.areas.frame(["code", "name", "level", "parent_code", "kind"])
    # Other names a street goes by: data on the area (its `aliases` property), read by the geocoder.
    areas["aliases"] = [";".join(names.STREET_ALIASES.get(n, ())) or None for n in areas["name"]]
    # each street centre's service hotline (a property, read by the residents' contact answer)
    areas["hotline"] = [f"0537-{2300000 + int(c[6:9]) * 1111:07d}" if level == "street" else None
                        for c, level in zip(areas["code"], areas["level"], strict=True)]
    dataset = Dataset(
        layers={
            "areas": areas,
            "buildings": buildings,
            "roads": gen.roads.frame(["code", "name"]),
            "alleys": gen.alleys.frame(["code", "name"]),
            "cameras": gen.cameras.frame(["code", "name", "kind", "heading_deg", "fov_deg",
                                          "range_m"]),
            "sites": gen.sites.frame(["code", "name", "kind", "address", "hours", "phone"]),
        },
        workers=gen.workers(),
        notes={k: sorted(v) for k, v in gen.situations.items()},
    )
    addresses.add_to(dataset, grid_of, seed, spec.name)  # the standard-address gazetteer
    return dataset
