"""The address geocoder: normalisation cases, matching rules, and accuracy on messy addresses."""

import collections

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench.messy_addresses import generate as messy
from gis.address import normalise, parse, within_one_edit
from gis.gazetteer import Gazetteer
from gis.gazetteer_terms import CONFIDENT
from layers.access.rate_limit import RateLimiter
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from tests.support import BOUNDARY, full_city, small_city


@pytest.mark.parametrize(("typed", "canonical"), [
    ("太白楼路１２号", "太白楼路12号"),
    ("曲水苑三号楼", "曲水苑3号楼"),
    ("曲水苑十二号楼", "曲水苑12号楼"),
    ("曲水苑1号楼六〇二", "曲水苑1号楼602"),
    ("曲水苑3栋", "曲水苑3号楼"), ("曲水苑3幢", "曲水苑3号楼"), ("曲水苑3座", "曲水苑3号楼"),
    ("廿里铺街道", "廿里铺街道"), ("二十里铺街道", "二十里铺街道"),
    ("金城花园3-2-501", "金城花园3号楼2单元501室"),
    (" 太白楼路 12号，曲水苑（3号楼） ", "太白楼路12号曲水苑3号楼"),
    ("一百零五号", "105号"),
])
def test_normalisation_brings_every_form_to_one(typed, canonical):
    assert normalise(typed) == canonical


def test_parse_splits_road_number_compound_building_unit_room():
    p = parse("山东省济宁市任城区太白楼路12号曲水苑3号楼2单元602室", drop_prefixes=("任城区",))
    assert (p.road, p.house_number, p.compound, p.building_no, p.unit, p.room) == (
        "太白楼路", "12", "曲水苑", "3", "2", "602")


def test_parse_reads_a_rural_address():
    p = parse("喻屯镇张庄村128号", streets=("喻屯镇",))
    assert (p.street, p.village, p.house_number) == ("喻屯镇", "张庄村", "128")


def test_a_compound_ending_in_village_is_not_a_village():
    assert parse("税务新村1-3-101").compound == "税务新村"


def test_one_edit():
    assert within_one_edit("曲水苑", "曲水园") and within_one_edit("曲水苑", "曲苑")
    assert not within_one_edit("曲水苑", "金城花园")


@pytest.fixture(scope="module")
def small_gazetteer():
    gz = Gazetteer.for_district(["任城区"], ["金城街道"])
    for i, (addr, name) in enumerate([
        ("太白楼路12号曲水苑1号楼", "曲水苑1号楼"), ("太白楼路12号曲水苑10号楼", "曲水苑10号楼"),
        ("太白楼路12号曲水苑2号楼", "曲水苑2号楼"), ("建设路8号金城花园3号楼", "金城花园3号楼"),
    ]):
        gz.add(f"B{i}", addr, name, 116.5, 35.4)
    gz.add("S1", "太白楼路1号", "康宁社区网格会客厅", 116.5, 35.4, kind="reception_room")
    return gz


def test_a_different_building_number_is_never_returned(small_gazetteer):
    _parsed, found = small_gazetteer.search("曲水苑1号楼")
    assert [m.entry.code for m in found] == ["B0"]


def test_a_building_the_compound_lacks_answers_the_compound_with_building_not_found(
        small_gazetteer):
    _parsed, found = small_gazetteer.search("曲水苑11号楼")
    assert [(m.entry.kind, m.reason, m.confident) for m in found] == [
        ("compound", "building not found", False)]


@pytest.mark.parametrize(("typed", "code"), [
    ("曲水园2号楼", "B2"), ("曲苑2号楼", "B2"), ("建设路8号金成花园3号楼", "B3"),
    ("建设8号金城花园3号楼", "B3"), ("建设路8号3号楼", "B3"),
])
def test_one_wrong_or_missing_character_still_finds_the_building(small_gazetteer, typed, code):
    _parsed, found = small_gazetteer.search(typed)
    assert found[0][0].code == code


def test_a_site_is_found_by_its_name(small_gazetteer):
    _parsed, found = small_gazetteer.search("康宁社区网格会客厅")
    assert found[0][0].code == "S1" and found[0][1] >= CONFIDENT


@pytest.fixture(scope="module")
def city_gazetteer():
    city = full_city()
    areas = city.layers["areas"]
    gz = Gazetteer.for_district(list(areas[areas.level == "district"].name),
                                [*areas[areas.level == "street"].name, "二十里铺街道"])
    b = city.layers["buildings"]
    for row, p in zip(b.itertuples(), b.geometry.representative_point(), strict=True):
        gz.add(row.code, row.address, row.name, p.x, p.y)
    return gz, b


def test_ten_thousand_messy_addresses_top1_at_least_99_percent_and_none_confidently_wrong(
        city_gazetteer):
    gz, buildings = city_gazetteer
    queries = messy(buildings, 10_000)
    assert collections.Counter(case for _q, _t, case in queries).most_common()[-1][1] >= 900
    right = confident_wrong = 0
    for query, truth, _case in queries:
        _parsed, found = gz.search(query)
        if found and found[0][0].code == truth:
            right += 1
        elif found and found[0][1] >= CONFIDENT:
            confident_wrong += 1
    assert right / len(queries) >= 0.99
    assert confident_wrong == 0


@pytest.fixture
def client(db_url, engine):
    assert write_validated(engine, small_city()).ok
    with TestClient(create_app(url=db_url)) as c:
        yield c


def test_geocode_answers_candidates_with_grid_and_parsed_components(client, engine):
    from sqlalchemy import text

    with engine.connect() as conn:
        _address, name = conn.execute(text(
            "SELECT address, name FROM buildings WHERE properties ? 'compound' LIMIT 1")).one()
    body = client.get("/v1/geocode", params={"q": name + "2单元602"}).json()
    top = body["candidates"][0]
    assert top["building"]["name"] == name and top["score"] >= CONFIDENT
    assert top["grid"]["code"].startswith("370811")
    assert body["parsed"]["building_no"] and body["echo"] == {"unit": "2", "room": "602"}


def test_geocode_with_nothing_plausible_is_404_with_what_was_understood(client):
    response = client.get("/v1/geocode", params={"q": "火星路1号不存在小区99号楼"})
    assert response.status_code == 404
    body = response.json()
    assert body["parsed"]["road"] == "火星路" and body["error_zh"]


def test_resident_lookup_by_wechat_location(client, engine):
    from sqlalchemy import text

    from gis.crs import transform_xy

    with engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE level = 'grid' AND kind = 'comprehensive' LIMIT 1")).one()
    gx, gy = transform_xy(lon, lat, "wgs84", "gcj02")
    body = client.get("/v1/resident/worker", params={"lon": float(gx), "lat": float(gy)}).json()
    assert body["worker"]["phone_masked"].count("*") == 4
    assert body["nearest_reception_room"]["distance_m"] >= 0
    assert "phone" not in body["worker"]


def test_resident_lookup_by_address(client, engine):
    from sqlalchemy import text

    with engine.connect() as conn:
        address = conn.execute(text("SELECT address FROM buildings LIMIT 1")).scalar()
    body = client.get("/v1/resident/worker", params={"address": address}).json()
    assert body["matched_address"]["address"] == address and body["grid"]["code"]


def test_resident_lookup_is_rate_limited_per_client(client):
    client.app.state.resident_limiter = RateLimiter(3)
    codes = [client.get("/v1/resident/worker", params={"lon": 116.6, "lat": 35.41}).status_code
             for _ in range(5)]
    assert codes[-1] == 429 and codes.count(429) == 2
    limited = client.get("/v1/resident/worker", params={"lon": 116.6, "lat": 35.41})
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["error_zh"]


# -- forms residents and officers write that are not the standard address ------------------------
@pytest.fixture(scope="module")
def forms_gazetteer():
    gz = Gazetteer.for_district(["任城区", "济宁市任城区"], ["金城街道", "喻屯镇"])
    for code, address, name, lon, grid in [
        ("B1", "太白楼路12号曲水苑3号楼", "曲水苑3号楼", 116.50, "G1"),
        ("B2", "太白楼路12号曲水苑4号楼", "曲水苑4号楼", 116.50, "G1"),
        ("B8", "太白楼路20号银座1号楼", "银座1号楼", 116.60, "G9"),
        ("B3", "喻屯镇后曹庄村20号", None, 116.40, "G2"),
        ("B4", "曲水亭街8号", None, 117.00, "G3"),
        ("B5", "建设路5号实验小学教学楼", "实验小学教学楼", 116.61, "G4"),
        ("B6", "共青团路9号九九花园1号楼", "九九花园1号楼", 116.62, "G5"),
        ("B7", "共青团路9号九九花园2号楼", "九九花园2号楼", 116.62, "G5"),
        ("B9", "红星路1号红星家园1号楼", "红星家园1号楼", 116.63, "G6"),
        ("B10", "红星路1号红星家园2号楼", "红星家园2号楼", 116.63, "G7"),
    ]:
        gz.add(code, address, name, lon, 35.4, grid_code=grid)
    return gz


def _top(gz, q):
    parsed, found = gz.search(q)
    return parsed, (found[0][0], found[0][1]) if found else (None, 0.0)


def test_a_door_plate_is_confident_alone_and_never_under_another_districts_name(forms_gazetteer):
    _p, (entry, score) = _top(forms_gazetteer, "曲水亭街8号")
    assert entry.code == "B4" and score >= CONFIDENT
    _p, (entry, score) = _top(forms_gazetteer, "山东省济南市历下区曲水亭街8号")
    assert entry.code == "B4" and score < CONFIDENT  # issue 21's first rule: another district


def test_a_door_plate_of_several_buildings_answers_the_door_plate_and_its_grid(forms_gazetteer):
    _p, (entry, score) = _top(forms_gazetteer, "太白楼路12号")
    assert entry.kind == "door_plate" and entry.grid_code == "G1" and score >= CONFIDENT


def test_a_place_by_part_of_its_name(forms_gazetteer):
    _p, (entry, score) = _top(forms_gazetteer, "实验小学")
    assert entry.code == "B5" and score >= CONFIDENT


def test_a_village_house_by_village_and_number(forms_gazetteer):
    _p, (entry, score) = _top(forms_gazetteer, "后曹庄村20号")
    assert entry.code == "B3" and score >= CONFIDENT


def test_a_compound_alone_answers_the_compound_and_its_grid(forms_gazetteer):
    _p, (entry, score) = _top(forms_gazetteer, "九九花园")
    assert entry.kind == "compound" and entry.grid_code == "G5" and score >= CONFIDENT


def test_a_compound_across_two_grids_is_never_a_confident_grid(forms_gazetteer):
    _p, (entry, score) = _top(forms_gazetteer, "红星家园")
    assert entry.grids == ("G6", "G7") and entry.grid_code is None and score < CONFIDENT


def test_a_number_between_known_door_plates_is_placed_between_them_not_confidently(forms_gazetteer):
    _p, (entry, score) = _top(forms_gazetteer, "太白楼路16号")
    assert entry.kind == "interpolated" and 116.50 < entry.lon < 116.60 and score < CONFIDENT


def test_floor_and_side_name_the_room(forms_gazetteer):
    parsed, (entry, _s) = _top(forms_gazetteer, "九九花园2号楼2单元5楼西户")
    assert entry.code == "B7" and (parsed.unit, parsed.room) == ("2", "501")
    assert _top(forms_gazetteer, "九九花园2号楼3单元6层东户")[0].room == "602"


def test_the_new_forms_on_the_demo_are_never_confidently_in_the_wrong_grid():
    """Door plates, compounds alone and the district's prefix, for 3,000 demo buildings: a
    confident answer is always in the building's own grid."""
    city = generate(BOUNDARY, scale=0.3)
    areas = city.layers["areas"]
    grids = areas[areas.level == "grid"][["code", "geometry"]].rename(columns={"code": "grid"})
    b = city.layers["buildings"].copy()
    b["geometry"] = b.geometry.representative_point()
    b = b.sjoin(grids, predicate="within").drop_duplicates("code")
    gz = Gazetteer.for_district(list(areas[areas.level == "district"].name),
                                list(areas[areas.level == "street"].name))
    for row in b.itertuples():
        gz.add(row.code, row.address, row.name, row.geometry.x, row.geometry.y, grid_code=row.grid)
    sample = b.sample(3000, random_state=7)
    confident = wrong = 0
    for row in sample.itertuples():
        forms = [f"山东省济宁市任城区{row.address}"]
        if isinstance(row.compound, str):
            forms += [f"{row.road}{row.house_number}号", row.compound]
        for q in forms:
            _p, (entry, score) = _top(gz, q)
            if entry is not None and score >= CONFIDENT:
                confident += 1
                wrong += entry.grid_code != row.grid
    assert confident > 3000 and wrong == 0
