"""The Rencheng demo city at full scale: the reference totals and an exact tessellation."""

import re

import pytest
import shapely
from sqlalchemy import text

from gis.topology import metres_to_degrees, sibling_defects
from layers.demo.city import generate
from layers.demo.names import STREETS
from layers.interchange.importer import write_validated
from tests.test_boundary import BOUNDARY


@pytest.fixture(scope="module")
def city():
    return generate(BOUNDARY, scale=1.0)


@pytest.fixture(scope="module")
def small_city():
    return generate(BOUNDARY, scale=0.05)


def _areas(city, level):
    a = city.layers["areas"]
    return a[a.level == level]


def test_the_fifteen_real_streets_and_towns_with_their_codes(city):
    streets = _areas(city, "street")
    assert dict(zip(streets.code, streets.name, strict=True)) == {s.code: s.name for s in STREETS}
    assert streets.set_index("code").loc["370811009", "name"] == "廿里铺街道"
    assert {"喻屯镇", "长沟镇"} <= set(streets.name)


def test_519_communities_and_1347_grid_workers_grids_plus_the_two_staged_ones(city):
    assert len(_areas(city, "community")) == 519
    grids = _areas(city, "grid")
    # 1,347 grids with their own worker, a new compound's grid still without one, and the second
    # grid of a merged village, which the first grid's worker covers
    assert (grids.kind == "comprehensive").sum() == 1347 + 2
    assert (grids.kind == "dedicated").sum() >= 30


def test_workers_are_the_reference_counts_by_role(city):
    assert city.workers.role.value_counts().to_dict() == {
        "full_time": 898, "part_time": 449, "environment": 159, "safety": 65}


def test_every_comprehensive_grid_but_the_unstaffed_one_has_exactly_one_grid_worker(city):
    grid_workers = city.workers[city.workers.role.isin(["full_time", "part_time"])]
    covered = grid_workers.grid_codes.str.split(";").explode()
    grids = _areas(city, "grid")
    comprehensive = set(grids[grids.kind == "comprehensive"].code)
    assert covered.is_unique
    assert comprehensive - set(covered) == set(city.notes["unstaffed"])


def test_the_demo_stages_the_planning_situations_a_planner_meets(city):
    grids = _areas(city, "grid").set_index("code")
    b = city.layers["buildings"].sjoin(
        grids[["geometry"]].reset_index().rename(columns={"code": "grid"}), predicate="within")
    households = b.groupby("grid").households.sum()
    assert len(city.notes["overloaded"]) == 3
    assert (households[city.notes["overloaded"]] > 1000).all()  # new compounds: split them
    [unstaffed] = city.notes["unstaffed"]
    grid_workers = city.workers[city.workers.role.isin(["full_time", "part_time"])]
    assert not grid_workers.grid_codes.str.contains(unstaffed).any()  # specialists still cover it
    [village] = city.notes["merged"]
    old_villages = grids[grids.parent_code == village]
    assert len(old_villages) == 2 and "（原" in old_villages.name.iloc[1]
    one_worker = city.workers[city.workers.grid_codes == ";".join(sorted(old_villages.index))]
    assert len(one_worker) == 1 and one_worker.role.iloc[0] == "part_time"
    # the old village's houses keep its door plates
    old_name = old_villages.name.iloc[1].split("（原")[1].rstrip("）")
    assert b[b.grid == old_villages.index[1]].address.str.contains(old_name).all()


def test_every_community_is_crossed_by_roads_or_lanes(city):
    lines = list(city.layers["roads"].geometry) + list(city.layers["alleys"].geometry)
    communities = _areas(city, "community")
    crossed = set(shapely.STRtree(lines).query(communities.geometry.values, predicate="crosses")[0])
    assert len(crossed) == len(communities)


def test_urban_grids_are_cut_into_blocks_by_their_lanes(city):
    lanes = city.layers["roads"][city.layers["roads"].name.str.endswith("巷")]
    grids = _areas(city, "grid")
    urban = grids[(grids.kind == "comprehensive") & ~grids.code.str[9:10].eq("2")]
    cut = set(shapely.STRtree(list(lanes.geometry)).query(urban.geometry.values,
                                                          predicate="intersects")[0])
    assert len(cut) / len(urban) > 0.8


def test_no_road_or_alley_crosses_a_building(city):
    footprints = shapely.STRtree(city.layers["buildings"].geometry.values)
    for layer in ("roads", "alleys"):
        hits = footprints.query(city.layers[layer].geometry.values, predicate="intersects")
        assert hits.size == 0, layer


def test_specialists_cover_several_grids_each(city):
    specialists = city.workers[city.workers.role.isin(["environment", "safety"])]
    assert (specialists.grid_codes.str.count(";") >= 2).all()


def test_households_and_residents_match_the_reference_totals(city):
    b = city.layers["buildings"]
    assert b.households.sum() == 481_599
    assert b.population.sum() == 1_162_189
    assert b.floating_population.sum() == 99_664


def test_urban_grids_mostly_hold_300_to_500_households_with_a_few_outliers(city):
    b = city.layers["buildings"].copy()
    grids = _areas(city, "grid")
    urban = grids[(grids.kind == "comprehensive") & grids.code.str[9:10].isin(list("01"))]
    joined = b.sjoin(urban[["code", "geometry"]].rename(columns={"code": "grid"}),
                     predicate="within")
    per_grid = joined.groupby("grid").households.sum()
    in_norm = per_grid.between(300, 500)
    assert in_norm.mean() > 0.9
    assert (~in_norm).sum() >= 10  # planners get something to fix


def test_jincheng_has_its_cameras_sensors_sites_and_alleys(city):
    cams = city.layers["cameras"]
    jc = cams[cams.code.str.startswith("CAM008")].kind.value_counts()
    assert jc[["fixed", "ptz", "panoramic"]].sum() == 320
    assert jc["loudspeaker"] == 65 and jc["fume_monitor"] == 50
    sites = city.layers["sites"]
    jc_sites = sites[sites.code.str.startswith("SITE008")].kind.value_counts().to_dict()
    assert jc_sites == {"reception_room": 38, "service_hall": 15, "construction_site": 21,
                        "key_enterprise": 25, "restaurant": 50}
    alleys = city.layers["alleys"]
    assert alleys.code.str.startswith("ALY008").sum() >= 36


def test_video_cameras_have_heading_field_of_view_and_range(city):
    cams = city.layers["cameras"]
    video = cams[cams.kind.isin(["fixed", "ptz", "panoramic"])]
    assert video.heading_deg.between(0, 360, inclusive="left").all()
    assert video.fov_deg.between(1, 360).all() and (video.range_m > 0).all()


def test_urban_addresses_are_road_number_compound_building(city):
    b = city.layers["buildings"]
    urban = b[b.compound.notna()]
    pattern = re.compile(r"^[\u4e00-\u9fff]+路?\S*?\d+号[\u4e00-\u9fff\w]+\d+号楼$")
    assert urban.address.map(lambda a: bool(pattern.match(a))).all()
    assert b.address.is_unique


def test_the_hierarchy_tessellates_without_gaps_overlaps_or_strays(city):
    areas = city.layers["areas"]
    geoms = dict(zip(areas.code, areas.geometry, strict=True))
    one_millimetre = metres_to_degrees(0.001, 35.4)
    defects = []
    for parent, children in areas[areas.parent_code != ""].groupby("parent_code"):
        defects += sibling_defects(parent, geoms[parent], list(children.code),
                                   [geoms[c] for c in children.code], one_millimetre)
    assert defects == []


def test_streets_cover_the_real_district_boundary(city):
    district = _areas(city, "district").geometry.iloc[0]
    streets = shapely.union_all(list(_areas(city, "street").geometry))
    assert streets.symmetric_difference(district).area < 1e-12  # square degrees: about 0.01 m²


def test_the_same_seed_builds_the_same_city(small_city):
    again = generate(BOUNDARY, scale=0.05)
    for name, frame in small_city.layers.items():
        assert list(frame.code) == list(again.layers[name].code)
        assert all(frame.geometry.geom_equals_exact(again.layers[name].geometry, 0))
    assert small_city.workers.equals(again.workers)


def test_another_seed_builds_another_city(small_city):
    other = generate(BOUNDARY, scale=0.05, seed=1)
    assert list(other.layers["areas"].name) != list(small_city.layers["areas"].name)


def test_loaded_city_tessellates_in_postgis_too(engine, city):
    outcome = write_validated(engine, city)
    assert outcome.ok and outcome.written.generation_status == "active"
    with engine.connect() as conn:
        # Planar areas in the stored CRS, where ST_Covers works; geography would measure
        # geodesic edges, which no longer follow the stored straight ones.
        worst = conn.execute(text("""
            SELECT max(ST_Area(ST_SymDifference(p.geom, s.u))), max(s.sum_area - ST_Area(s.u))
            FROM areas p JOIN LATERAL (
                SELECT ST_Union(c.geom) AS u, sum(ST_Area(c.geom)) AS sum_area
                FROM areas c WHERE c.parent_id = p.id) s ON true
            WHERE s.u IS NOT NULL
        """)).one()
    assert worst[0] < 1e-10 and worst[1] < 1e-10  # square degrees, about 1 m²: no gaps, no overlaps


def test_loading_the_demo_twice_changes_nothing(engine, small_city):
    write_validated(engine, small_city)
    second = write_validated(engine, small_city)
    assert not second.written.changed
    assert "identical" in second.written.areas_note
