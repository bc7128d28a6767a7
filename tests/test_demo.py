"""The Rencheng demo city at full scale: the reference totals and an exact tessellation."""

import re

import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from gis.topology import metres_to_degrees, sibling_defects
from layers.demo.city import generate
from layers.demo.names import STREETS
from layers.interchange.importer import write_validated
from tests.support import BOUNDARY, full_city
from tests.support import small_city as cached_small_city


@pytest.fixture(scope="module")
def city():
    return full_city()


@pytest.fixture(scope="module")
def small_city():
    return cached_small_city()


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


def test_villages_along_fields_and_rivers_have_long_rings(city):
    """Rural reality: in 长沟镇 and 喻屯镇 some village grids are bounded by fields and rivers,
    with hundreds of vertices, as real district data is (the tessellation alone draws six)."""
    grids = _areas(city, "grid")
    vertices = pd.Series(shapely.get_num_coordinates(grids.geometry.values), index=grids.code)
    long = vertices[vertices >= 200]
    assert len(long) >= 20 and vertices.max() >= 300
    assert set(long.index.str[:9]) == {"370811102", "370811111"}
    assert (long.index.str[9] == "2").all()  # villages (村: community codes 2xx)


def test_the_small_city_of_the_everyday_tests_has_long_rings_too(small_city):
    grids = _areas(small_city, "grid")
    assert (shapely.get_num_coordinates(grids.geometry.values) >= 200).sum() >= 3


def test_a_field_edge_is_the_same_vertices_in_both_villages_it_bounds(city):
    """Two boundaries share a line only where their vertices coincide: a redrawn edge that
    differed by a hair in one village would meet the other in points, not in a long line."""
    grids = _areas(city, "grid")
    long = grids[shapely.get_num_coordinates(grids.geometry.values) >= 200].geometry.values
    tree = shapely.STRtree(grids.geometry.values)
    a, b = tree.query(long, predicate="touches")
    shared = shapely.line_merge(shapely.intersection(shapely.boundary(long[a]),
                                                     shapely.boundary(grids.geometry.values[b])))
    assert shapely.get_num_coordinates(shared).max() >= 50


def test_every_building_stands_inside_one_grid(city):
    grids = _areas(city, "grid")
    inside, _grid = shapely.STRtree(grids.geometry.values).query(
        city.layers["buildings"].geometry.values, predicate="within")
    assert len(inside) == len(city.layers["buildings"]) and len(set(inside)) == len(inside)


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


def test_the_district_accounts_places_are_in_the_demo(city):
    """The places of the district's own account: 金城街道's 九九花园, 兴东 (金华小区), 洸河 and 西孟,
    阜桥街道's 枣店阁, 牌坊街 (物资局宿舍), 津浦街 and 红星新村, the road 红星西路, and the 万达
    business-district grid of eight complexes."""
    communities = dict(zip(_areas(city, "community").name, _areas(city, "community").code,
                           strict=True))
    for name in ("九九花园社区", "兴东社区", "洸河社区", "西孟社区"):
        assert communities[name].startswith("370811008")
    for name in ("枣店阁社区", "牌坊街社区", "津浦街社区", "红星新村社区"):
        assert communities[name].startswith("370811013")
    b = city.layers["buildings"]
    shapes = _areas(city, "community").set_index("name").geometry
    for compound, community in (("金华小区", "兴东社区"), ("物资局宿舍", "牌坊街社区"),
                                ("九九花园", "九九花园社区")):
        assert b[b.compound == compound].within(shapes[community]).all()
        assert (b.compound == compound).sum() >= 2
    assert (city.layers["roads"].name == "红星西路").any()
    grids = _areas(city, "grid")
    wanda = grids[grids.name == "万达商圈网格"]
    assert len(wanda) == 1 and wanda.code.iloc[0].startswith("370811008")
    sites = city.layers["sites"]
    inside = sites[sites.within(wanda.geometry.iloc[0].buffer(1e-6))]
    assert len(inside[inside.kind == "commercial"]) == 8


@pytest.fixture(scope="module")
def field_demo(server_url, template_url):
    """A city with its history and field work, as `gridmap demo load` writes them."""
    import datetime as dt

    from layers.demo import field
    from layers.demo.case_history import load as load_history
    from tests.support import scratch_database

    with scratch_database(server_url) as (_url, engine):
        # a quarter of the district: 金城街道 has 九九花园 and 兴东 (金华小区) at this scale
        assert write_validated(engine, generate(BOUNDARY, scale=0.25)).ok
        cases = load_history(engine, scale=0.25)
        with engine.connect() as conn:
            assert cases == conn.scalar(text("SELECT count(*) FROM cases")) > 40_000
        counts = field.load(engine, scale=0.25, today=dt.date(2026, 11, 27))
        yield engine, counts


def test_the_field_demo_has_a_month_of_patrols_four_departments_tasks_and_responses(field_demo):
    engine, counts = field_demo
    assert counts["patrols"] > 40 and counts["tasks"] == 4
    with engine.connect() as conn:
        answerable = conn.scalar(text("""SELECT count(*) FROM cases k WHERE k.source = 'camera'
            AND k.category_code = 'E0501' AND k.status = 'closed' AND k.grid_code LIKE '370811008%'
            AND EXISTS (SELECT 1 FROM cameras c WHERE c.kind = 'loudspeaker'
                        AND ST_DWithin(c.geom::geography, k.geom::geography, c.range_m))"""))
        days, streets, share = conn.execute(text("""SELECT count(DISTINCT started_at::date),
            count(DISTINCT left(grid_code, 9)), avg(coverage_share) FROM patrols""")).one()
        departments = conn.execute(text("SELECT array_agg(DISTINCT department) FROM tasks")).scalar()
        overdue = conn.scalar(text("""SELECT count(*) FROM grid_tasks gt JOIN tasks t
            ON t.id = gt.task_id WHERE t.deadline < '2026-11-27' AND gt.status <> 'done'"""))
        future = conn.scalar(text("""SELECT count(*) FROM grid_task_events
            WHERE at > now() + interval '1 minute'"""))
    assert days >= 15 and streets == 1 and 0.2 < share < 1
    assert set(departments) == {"生态环境局", "住房和城乡建设局", "市场监督管理局", "应急管理局"}
    assert overdue > 0 and future == 0  # some are late; nothing happened in the future
    assert (counts["loudspeaker responses"] > 0) == (answerable > 0)
    assert field_demo[1] == counts
    from layers.demo import field
    assert field.load(engine, scale=0.25) == {}  # loaded once


def test_the_stories_are_replayed_as_cases_with_their_times(field_demo):
    """杨文 reports 金华小区's dark street lights on 15 September 09:05; the photos come on 18
    September 09:08 and the case closes ten minutes later. A camera on 红星西路 flags street vending
    on 20 September 10:02 and the loudspeaker clears it."""
    engine, _counts = field_demo
    with engine.connect() as conn:
        lights = conn.execute(text("""
            SELECT c.id, c.status, c.created_at AT TIME ZONE 'Asia/Shanghai' AS created,
                   c.closed_at AT TIME ZONE 'Asia/Shanghai' AS closed,
                   (SELECT count(*) FROM photos p WHERE p.case_id = c.id) AS photos,
                   (SELECT actor FROM case_events e WHERE e.case_id = c.id AND e.action = 'report')
                   AS reporter
            FROM cases c WHERE c.description LIKE '金华小区%路灯不亮%'""")).one_or_none()
        vending = conn.execute(text("""
            SELECT c.created_at AT TIME ZONE 'Asia/Shanghai' AS created, c.status,
                   r.at AT TIME ZONE 'Asia/Shanghai' AS spoken, r.outcome
            FROM cases c JOIN case_responses r ON r.case_id = c.id
            WHERE c.description LIKE '%红星西路占道经营%'""")).one_or_none()
    assert lights is not None and vending is not None
    assert lights.status == "closed" and lights.photos == 2 and lights.reporter == "杨文"
    assert (lights.created.month, lights.created.day, lights.created.hour,
            lights.created.minute) == (9, 15, 9, 5)
    assert (lights.closed.day, lights.closed.hour, lights.closed.minute) == (18, 9, 18)
    assert vending.status == "closed" and vending.outcome == "劝导驱离"
    assert (vending.created.month, vending.created.day, vending.created.hour,
            vending.created.minute) == (9, 20, 10, 2)
    assert (vending.spoken - vending.created).total_seconds() == 240


def test_a_resident_typing_the_accounts_compounds_finds_them(city):
    """`九九花园` and `金华小区` — nothing was found before the demo carried them."""
    from gis.gazetteer import Gazetteer
    from gis.gazetteer_terms import CONFIDENT

    areas = city.layers["areas"]
    gz = Gazetteer.for_district(list(areas[areas.level == "district"].name),
                                list(areas[areas.level == "street"].name))
    b = city.layers["buildings"]
    grids = areas[areas.level == "grid"].reset_index(drop=True)
    points = b.geometry.representative_point()
    tree = shapely.STRtree(grids.geometry.values)
    where = dict(zip(*tree.query(points.values, predicate="within"), strict=True))
    for i, (row, p) in enumerate(zip(b.itertuples(), points, strict=True)):
        gz.add(row.code, row.address, row.name, p.x, p.y, "building", grids.code[where[i]])
    for name in ("九九花园", "金华小区", "物资局宿舍"):
        _parsed, found = gz.search(name)
        assert found and found[0][0].kind == "compound", name
        assert found[0][1] >= CONFIDENT or len(found[0][0].grids) > 1, found[0]
