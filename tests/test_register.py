"""The register: lookups (scoped, masked by role, audited), personal data encrypted at rest,
check digits, imports of real registers (GBK CSV, Excel, door-plate and room addresses), care
visits (due lists, flags, idempotent retries, compliance) and the register's counts."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import threading
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from api.app import create_app
from layers.access import users
from layers.demo.city import generate
from layers.demo.register import load as load_register
from layers.interchange.importer import write_validated
from layers.locating.locators import LocatorRegistry
from layers.register import identity, importer, keys, placing
from layers.register.crypto import MissingKey, PersonalData, WrongKey, _decode, check_key, read_key
from layers.storage.db import session_scope
from tests.support import BOUNDARY, MONDAY_10, TEST_REGISTER_KEY, Clock, scratch_database, small_city

TODAY = MONDAY_10.date()


@pytest.fixture(scope="module")
def reg(server_url, city_template):
    city = small_city()
    with scratch_database(server_url, pool_size=3, template=city_template) as (url, engine):
        app = create_app(url=url)
        app.state.clock = Clock(MONDAY_10)
        counts = load_register(engine, app.state.cipher, scale=0.05, today=TODAY)
        with engine.connect() as conn:
            # a grid with residents, and a person living there
            grid = conn.scalar(text("""SELECT bg.grid_code FROM persons p JOIN building_grids bg
                ON bg.building_id = p.building_id GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"""))
        with TestClient(app) as client, session_scope(engine) as session:
            tokens = {
                "worker": users.add(session, "w1", "worker", grid)[1],
                "worker_elsewhere": users.add(session, "w2", "worker", "370811111")[1],
                "dispatcher": users.add(session, "d1", "dispatcher", grid[:9])[1],
                "planner": users.add(session, "p1", "planner", None)[1],
                "admin": users.add(session, "a1", "admin", None)[1],
            }
            session.commit()
            yield client, engine, tokens, grid, counts, city


def _h(reg, who: str) -> dict:
    return {"Authorization": f"Bearer {reg[2][who]}"}


def _someone(engine, grid: str, *, where: str = "true") -> dict:
    cipher = PersonalData(_decode(TEST_REGISTER_KEY))
    with engine.connect() as conn:
        r = conn.execute(text(f"""
            SELECT p.code, p.name, p.id_cipher, p.phone_cipher, p.dwelling_id, p.tags, b.address,
                   d.unit, d.room FROM persons p
            JOIN building_grids bg ON bg.building_id = p.building_id
            JOIN buildings b ON b.id = p.building_id JOIN dwellings d ON d.id = p.dwelling_id
            WHERE bg.grid_code = :g AND p.phone_cipher IS NOT NULL AND {where}
            ORDER BY p.id LIMIT 1"""), {"g": grid}).one()
    return {"code": r.code, "name": r.name, "id": cipher.decrypt(r.id_cipher, "id"),
            "phone": cipher.decrypt(r.phone_cipher, "phone"), "dwelling": r.dwelling_id,
            "tags": r.tags, "address": r.address, "unit": r.unit, "room": r.room}


# -- identifiers ---------------------------------------------------------------------------------
def test_the_standards_own_examples_pass_their_check_digits():
    assert identity.id_problem("11010519491231002X") is None
    assert identity.credit_code_problem("91350100M000100Y43") is None


@given(st.dates(dt.date(1920, 1, 1), dt.date(2025, 12, 31)), st.integers(0, 999),
       st.sampled_from(["370811", "110105", "320311"]))
@settings(max_examples=200)
def test_a_changed_digit_of_a_valid_id_number_is_caught(birth, seq, region):
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    valid = first17 + identity.id_check_char(first17)
    assert identity.id_problem(valid) is None
    assert identity.birth_date_of(valid) == birth
    wrong = valid[:10] + str((int(valid[10]) + 1) % 10) + valid[11:]
    assert identity.id_problem(wrong) is not None  # MOD 11-2 catches every single-digit error


def test_masks_keep_region_and_last_four_and_hide_the_rest():
    assert identity.mask_id("37081119800101123X") == "370811********123X"
    assert identity.mask_phone("13805375678") == "138****5678"


# -- the demo register ---------------------------------------------------------------------------
def test_the_demo_register_matches_the_buildings_counts(reg):
    _client, engine, *_ = reg
    with engine.connect() as conn:
        persons, floating, dwellings = conn.execute(text(
            "SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM persons WHERE floating),"
            " (SELECT count(*) FROM dwellings)")).one()
        b = conn.execute(text("SELECT sum(population), sum(households), "
                              "sum((properties->>'floating_population')::int) FROM buildings")).one()
    assert (persons, dwellings, floating) == (b[0], b[1], b[2])


def test_every_demo_id_number_is_valid_and_unique(reg):
    _client, engine, *_ = reg
    cipher = PersonalData(_decode(TEST_REGISTER_KEY))
    with engine.connect() as conn:
        blobs = [r[0] for r in conn.execute(text("SELECT id_cipher FROM persons"))]
    ids = [cipher.decrypt(b, "id") for b in blobs]
    assert len(set(ids)) == len(ids)
    assert [i for i in ids if identity.id_problem(i)] == []


# -- personal data at rest -----------------------------------------------------------------------
def test_the_raw_columns_hold_no_plaintext_id_or_phone(reg):
    _client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    with engine.connect() as conn:
        hits = conn.execute(text("""
            SELECT count(*) FROM persons
            WHERE position(convert_to(:id, 'UTF8') in id_cipher) > 0
               OR position(convert_to(:phone, 'UTF8') in phone_cipher) > 0
               OR position(convert_to(:id, 'UTF8') in id_index) > 0"""),
            {"id": someone["id"], "phone": someone["phone"]}).scalar()
        dump = conn.execute(text("SELECT row_to_json(p)::text FROM persons p WHERE code = :c"),
                            {"c": someone["code"]}).scalar()
    assert hits == 0
    assert someone["id"] not in dump and someone["phone"] not in dump


def test_without_a_key_the_server_does_not_start_and_says_why(tmp_path, monkeypatch):
    with pytest.raises(MissingKey, match="GRIDMAP_REGISTER_KEY"):
        read_key(None, tmp_path / "register.key")


def test_a_different_key_is_refused_at_start(reg):
    _client, engine, *_ = reg
    other = PersonalData(_decode(base64.urlsafe_b64encode(b"x" * 32).decode()))
    with pytest.raises(WrongKey, match="rotate-key"):
        check_key(engine, other)


# -- lookups -------------------------------------------------------------------------------------
def test_anonymous_callers_get_401(reg):
    assert reg[0].get("/v1/people", params={"q": "张"}).status_code == 401


def test_a_planner_may_not_look_people_up(reg):
    assert reg[0].get("/v1/people", params={"q": "张"}, headers=_h(reg, "planner")).status_code == 403


def test_a_worker_finds_a_person_of_their_grid_by_id_number_with_everything_around(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    body = client.get("/v1/people", params={"q": someone["id"]}, headers=_h(reg, "worker")).json()
    assert body["query"]["kind"] == "id" and body["count"] == 1
    hit = body["results"][0]
    assert hit["person"]["code"] == someone["code"]
    assert hit["person"]["id_masked"] == identity.mask_id(someone["id"])
    assert hit["person"]["id_number"] == someone["id"]  # a worker may identify their residents
    assert hit["grid"]["code"] == grid and hit["community"]["code"] == grid[:12]
    assert hit["street"]["code"] == grid[:9] and hit["dwelling"]["id"] == someone["dwelling"]
    assert hit["worker"] is None or hit["worker"]["code"].startswith("W")


def test_the_same_search_by_phone_and_by_name(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    by_phone = client.get("/v1/people", params={"q": someone["phone"]}, headers=_h(reg, "worker")).json()
    assert someone["code"] in [r["person"]["code"] for r in by_phone["results"]]
    by_name = client.get("/v1/people", params={"q": someone["name"]}, headers=_h(reg, "worker")).json()
    assert by_name["query"]["kind"] == "name"
    assert someone["code"] in [r["person"]["code"] for r in by_name["results"]]


def test_a_search_by_the_address_down_to_the_room(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid, where="d.unit > 0")
    q = f"{someone['address']}{someone['unit']}单元{someone['room']}室"
    body = client.get("/v1/people", params={"q": q}, headers=_h(reg, "worker")).json()
    assert body["query"]["kind"] == "address"
    assert {r["dwelling"]["id"] for r in body["results"]} == {someone["dwelling"]}


def test_a_dispatcher_sees_masked_numbers_only(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    hit = client.get("/v1/people", params={"q": someone["id"]},
                     headers=_h(reg, "dispatcher")).json()["results"][0]
    assert "id_number" not in hit["person"] and "phone" not in hit["person"]
    assert hit["person"]["phone_masked"] == identity.mask_phone(someone["phone"])


def test_a_worker_of_another_street_finds_nobody_here(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    body = client.get("/v1/people", params={"q": someone["id"]},
                      headers=_h(reg, "worker_elsewhere")).json()
    assert body["count"] == 0
    r = client.get(f"/v1/dwellings/{someone['dwelling']}", headers=_h(reg, "worker_elsewhere"))
    assert r.status_code == 404


def test_every_read_of_a_person_is_audited_without_the_query(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    client.get("/v1/people", params={"q": someone["id"]}, headers=_h(reg, "dispatcher"))
    with engine.connect() as conn:
        entry = conn.execute(text("""SELECT actor, action, client, detail::text AS detail
            FROM audit_log WHERE action = 'person.read' ORDER BY id DESC LIMIT 1""")).one()
    assert entry.actor == "d1" and someone["code"] in entry.detail and entry.client
    assert someone["id"] not in entry.detail  # the ID number typed in is not logged in clear


def test_the_restricted_tag_is_hidden_from_the_grid_worker_and_shown_to_who_may_see_it(reg):
    client, engine, *_ = reg
    with engine.connect() as conn:
        code, street_grid = conn.execute(text("""SELECT p.code, bg.grid_code FROM persons p
            JOIN building_grids bg ON bg.building_id = p.building_id
            WHERE '重点人员' = ANY(p.tags) LIMIT 1""")).one()
        name = conn.scalar(text("SELECT name FROM persons WHERE code = :c"), {"c": code})
    with session_scope(engine) as session:
        token = users.add(session, f"w-{code}", "worker", street_grid)[1]
    as_worker = client.get("/v1/people", params={"q": name, "limit": 100},
                           headers={"Authorization": f"Bearer {token}"}).json()
    as_admin = client.get("/v1/people", params={"q": name, "limit": 100}, headers=_h(reg, "admin")).json()
    tags = {r["person"]["code"]: r["person"]["tags"] for r in as_worker["results"]}
    assert "重点人员" not in tags[code]
    assert "重点人员" in {r["person"]["code"]: r["person"]["tags"] for r in as_admin["results"]}[code]


def test_a_mistyped_id_number_is_a_422_that_says_so(reg):
    r = reg[0].get("/v1/people", params={"q": "370811198001011230"}, headers=_h(reg, "worker"))
    assert r.status_code == 422 and "check character" in r.json()["error"]


def test_a_buildings_dwellings_list_units_floors_rooms_and_residents(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid, where="d.unit > 0")
    with engine.connect() as conn:
        code = conn.scalar(text("SELECT b.code FROM dwellings d JOIN buildings b ON b.id = d.building_id "
                                "WHERE d.id = :d"), {"d": someone["dwelling"]})
    body = client.get(f"/v1/buildings/{code}/dwellings", headers=_h(reg, "worker")).json()
    mine = next(d for d in body["dwellings"] if d["id"] == someone["dwelling"])
    assert mine["unit"] == someone["unit"] and mine["room"] == someone["room"]
    assert mine["residents"] >= 1 and "单元" in mine["address"]


def test_organisations_by_credit_code_with_a_checked_code(reg):
    client, engine, *_ = reg
    with engine.connect() as conn:
        code = conn.scalar(text("SELECT credit_code FROM organisations LIMIT 1"))
    assert identity.credit_code_problem(code) is None
    body = client.get("/v1/organisations", params={"q": code}, headers=_h(reg, "admin")).json()
    assert body["count"] == 1 and body["results"][0]["credit_code"] == code
    bad = code[:17] + ("0" if code[17] != "0" else "1")
    assert client.get("/v1/organisations", params={"q": bad}, headers=_h(reg, "admin")).status_code == 422


def test_register_counts_add_up_to_the_register(reg):
    client, engine, *_ = reg
    rows = client.get("/v1/stats/register", params={"by": "street"}, headers=_h(reg, "admin")).json()["rows"]
    with engine.connect() as conn:
        located = conn.scalar(text("SELECT count(*) FROM persons p JOIN building_grids bg "
                                   "ON bg.building_id = p.building_id"))
    assert sum(r["persons"] for r in rows) == located > 0
    assert all(len(r["area"]) == 9 for r in rows)


# -- visits --------------------------------------------------------------------------------------
def test_the_due_list_holds_the_care_tagged_people_and_rentals_of_my_grid(reg):
    client, _e, _t, grid, *_ = reg
    body = client.get("/v1/visits/due", headers=_h(reg, "worker")).json()
    assert body["due"] > 0 and body["area"] == grid
    assert all(i["grid"] == grid for i in body["items"])
    kinds = {i["kind"] for i in body["items"]}
    assert kinds <= {"person", "dwelling"}


def test_a_visit_far_from_the_home_is_flagged_not_refused_and_a_resend_is_one_visit(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    visit = {"person": someone["code"], "note": "入户走访，情况良好",
             "location": {"lon": 116.2, "lat": 35.1, "crs": "gcj02"}}
    keyed = {**_h(reg, "worker"), "Idempotency-Key": "visit-test-0001"}
    first = client.post("/v1/visits", json=visit, headers=keyed)
    assert first.status_code == 201, first.text
    assert first.json()["flagged"] is True and first.json()["distance_m"] > 1000
    again = client.post("/v1/visits", json=visit, headers=keyed)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_a_visit_keeps_its_photos_and_refuses_what_is_no_image(reg):
    from tests.support import real_png

    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    visit = client.post("/v1/visits", json={"person": someone["code"]}, headers=_h(reg, "worker")).json()
    png = real_png()
    stored = client.post(f"/v1/visits/{visit['id']}/photos", headers=_h(reg, "worker"),
                         files={"file": ("门口.png", png, "image/png")})
    assert stored.status_code == 201, stored.text
    back = client.get(f"/v1/visits/{visit['id']}/photos/{stored.json()['id']}",
                      headers=_h(reg, "worker"))
    assert back.content == png and back.headers["content-type"] == "image/png"
    fake = client.post(f"/v1/visits/{visit['id']}/photos", headers=_h(reg, "worker"),
                       files={"file": ("x.png", b"not an image", "image/png")})
    assert fake.status_code == 415
    elsewhere = client.get(f"/v1/visits/{visit['id']}/photos/{stored.json()['id']}",
                           headers=_h(reg, "worker_elsewhere"))
    assert elsewhere.status_code == 404


def test_a_visit_photo_sent_again_is_the_photo_stored_the_first_time(reg):
    """The phone page's queue resends a photo whose answer it lost: one photo, not two."""
    from tests.support import real_png

    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    visit = client.post("/v1/visits", json={"person": someone["code"]}, headers=_h(reg, "worker")).json()
    keyed = {**_h(reg, "worker"), "Idempotency-Key": "visit-photo-0001"}
    first = client.post(f"/v1/visits/{visit['id']}/photos", headers=keyed,
                        files={"file": ("a.png", real_png(), "image/png")})
    again = client.post(f"/v1/visits/{visit['id']}/photos", headers=keyed,
                        files={"file": ("a.png", real_png(), "image/png")})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM photos WHERE visit_id = :v"),
                           {"v": visit["id"]}) == 1


def test_two_uploads_of_the_same_photo_at_once_store_one(reg):
    """Two resends that overlap (each checks, finds nothing, inserts): the unique index lets the
    first insert; the second waits for it, then answers the photo the first stored."""
    from sqlalchemy.orm import Session

    from layers.cases.photos import checked, stored
    from tests.support import eventually, real_png

    client, engine, _t, grid, *_ = reg
    visit = client.post("/v1/visits", json={"person": _someone(engine, grid)["code"]},
                        headers=_h(reg, "worker")).json()
    png = real_png()
    answers: list[tuple[int, bool]] = []

    def second() -> None:
        try:
            with Session(engine) as b:
                photo, created = stored(b, checked(png, "image/png", visit_id=visit["id"]))
                b.commit()
                answers.append((photo.id, created))
        except Exception as exc:  # noqa: BLE001 — said by the assertion below
            answers.append((-1, repr(exc)))  # type: ignore[arg-type]

    with Session(engine) as a:
        first, created = stored(a, checked(png, "image/png", visit_id=visit["id"]))
        assert created
        racing = threading.Thread(target=second)
        racing.start()
        def second_waits() -> bool:  # on the first's index entry; a connection per look: a
            with engine.connect() as conn:  # transaction sees one snapshot of pg_stat_activity
                return conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO photos%'")) == 1

        assert eventually(lambda: bool(answers) or second_waits()), answers
        assert answers == []  # still waiting
        a.commit()
        racing.join(timeout=60)
        assert answers == [(first.id, False)]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM photos WHERE visit_id = :v"),
                           {"v": visit["id"]}) == 1


def test_concurrent_retries_of_one_visit_make_one_visit(reg):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid)
    visit = {"person": someone["code"]}
    keyed = {**_h(reg, "worker"), "Idempotency-Key": "visit-race-0001"}
    answers = []

    def send():
        answers.append(client.post("/v1/visits", json=visit, headers=keyed).json()["id"])

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(answers)) == 1
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM visits WHERE key = 'visit-race-0001'")) == 1


def test_compliance_by_street_shares_and_overdue_of_last_month(reg):
    client, *_ = reg
    last = (TODAY.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    body = client.get("/v1/visits/compliance", params={"month": last, "by": "street"},
                      headers=_h(reg, "admin")).json()
    assert body["month_ended"] is True and body["rows"]
    for row in body["rows"]:
        assert row["visited"] + row["overdue"] == row["due"]
        assert 0.8 < row["share"] <= 1.0  # the demo visited about 92 %
    by_worker = client.get("/v1/visits/compliance", params={"month": last, "by": "worker"},
                           headers=_h(reg, "admin")).json()
    assert all(r["worker"].startswith("W") or r["worker"] == "(无网格员)" for r in by_worker["rows"])


def test_a_worker_may_not_read_compliance_and_a_bad_month_is_422(reg):
    client, *_ = reg
    assert client.get("/v1/visits/compliance", headers=_h(reg, "worker")).status_code == 403
    assert client.get("/v1/visits/due", params={"month": "2026-13"},
                      headers=_h(reg, "worker")).status_code == 422


# -- imports -------------------------------------------------------------------------------------
def _persons_file(engine, grid: str, path: Path, *, encoding: str, bad_row: bool) -> list[str]:
    """A persons register as an office keeps it: GBK, 身份证号 as the header, room addresses in
    two forms (3单元502室 and 3-2-501), new people moving in."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT b.address, d.unit, d.room FROM dwellings d JOIN buildings b ON b.id = d.building_id
            JOIN building_grids bg ON bg.building_id = d.building_id
            WHERE bg.grid_code = :g AND d.unit > 0 ORDER BY d.id LIMIT 3"""), {"g": grid}).all()
    ids = []
    lines = ["姓名,性别,身份证号,出生日期,联系电话,户籍类型,现住址,人员标签"]
    for k, r in enumerate(rows):
        first17 = f"110105{1990 + k}0{k + 1}15{k:02d}{2 * k + 1}"  # born elsewhere: new to the register
        pid = first17 + identity.id_check_char(first17)
        ids.append(pid)
        lines.append(f"新住户{'甲乙丙'[k]},男,{pid},{1990 + k}-0{k + 1}-15,1380537000{k},"
                     f"{'流动' if k else '户籍'},{r.address}{r.unit}单元{r.room}室,"
                     f"{'独居老人;失业人员' if k == 2 else ''}")
    if bad_row:
        lines.append("错号码,女,370811199001011231,1990-01-01,13805370009,户籍,"
                     f"{rows[0].address}{rows[0].unit}单元{rows[0].room}室,")
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return ids


def test_a_gbk_register_with_a_bad_check_digit_loads_nothing_and_says_which_row(reg, tmp_path):
    client, engine, _t, grid, *_ = reg
    path = tmp_path / "人口.csv"
    _persons_file(engine, grid, path, encoding="gbk", bad_row=True)
    locator = LocatorRegistry(engine).active()
    cipher = client.app.state.cipher
    with session_scope(engine) as session:
        before = session.scalar(text("SELECT count(*) FROM persons"))
        report = importer.run(session, locator, cipher, path, "persons")
        assert report.rows == 4 and report.accepted == 3 and report.written == {}
        assert [(p.row, p.field) for p in report.problems] == [(5, "id_number")]
        assert "check character" in report.problems[0].problem
        assert session.scalar(text("SELECT count(*) FROM persons")) == before


def test_accept_partial_loads_the_good_rows_and_a_second_import_changes_nothing(reg, tmp_path):
    client, engine, _t, grid, *_ = reg
    path = tmp_path / "persons.csv"
    ids = _persons_file(engine, grid, path, encoding="utf-8", bad_row=True)
    locator = LocatorRegistry(engine).active()
    cipher = client.app.state.cipher
    with session_scope(engine) as session:
        report = importer.run(session, locator, cipher, path, "persons", accept_partial=True)
    assert report.written["persons_inserted"] == 3
    with session_scope(engine) as session:
        again = importer.run(session, locator, cipher, path, "persons", accept_partial=True)
    assert again.written["persons_inserted"] == 0 and again.written["persons_updated"] == 0
    found = client.get("/v1/people", params={"q": ids[2]}, headers=_h(reg, "admin")).json()
    assert found["count"] == 1
    hit = found["results"][0]
    assert hit["grid"]["code"] == grid and "独居老人" in hit["person"]["tags"]
    assert hit["person"]["floating"] is True


def test_empty_phones_and_origins_on_some_rows_load_as_nothing(reg, tmp_path):
    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid, where="d.unit > 0")
    room = f"{someone['address']}{someone['unit']}单元{someone['room']}室"
    ids = []
    for k in range(2):
        first17 = f"320311{1985 + k}0305{k:02d}{2 * k + 1}"
        ids.append(first17 + identity.id_check_char(first17))
    path = tmp_path / "mixed.csv"
    path.write_text("姓名,性别,身份证号,出生日期,联系电话,户籍类型,现住址,人员标签,户籍地\n"
                    f"甲某,男,{ids[0]},1985-03-05,,流动,{room},,江苏省徐州市泉山区\n"
                    f"乙某,男,{ids[1]},1986-03-05,13805371234,户籍,{room},,\n", encoding="utf-8")
    with session_scope(engine) as session:
        report = importer.run(session, LocatorRegistry(engine).active(), client.app.state.cipher,
                              path, "persons")
    assert report.problems == [] and report.written["persons_inserted"] == 2
    found = client.get("/v1/people", params={"q": ids[0]}, headers=_h(reg, "admin")).json()
    person = found["results"][0]["person"]
    assert person["phone_masked"] is None and person["origin"] == "江苏省徐州市泉山区"
    other = client.get("/v1/people", params={"q": ids[1]}, headers=_h(reg, "admin")).json()
    assert other["results"][0]["person"]["origin"] is None


def test_an_excel_register_with_id_numbers_stored_as_numbers_is_reported(reg, tmp_path):
    from openpyxl import Workbook

    client, engine, _t, grid, *_ = reg
    someone = _someone(engine, grid, where="d.unit > 0")
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "性别", "公民身份号码", "出生日期", "联系电话", "户籍类型", "现住址", "人员标签"])
    sheet.append(["王五", "男", 370811199001011230, dt.date(1990, 1, 1), "13805371111", "户籍",
                  f"{someone['address']}{someone['unit']}单元{someone['room']}室", ""])
    path = tmp_path / "人口.xlsx"
    book.save(path)
    with session_scope(engine) as session:
        report = importer.run(session, LocatorRegistry(engine).active(), client.app.state.cipher,
                              path, "persons")
    assert report.problems and report.problems[0].field == "id_number"
    assert "Excel" in report.problems[0].problem


def test_a_file_without_the_required_headers_is_a_clear_error(reg, tmp_path):
    client, engine, *_ = reg
    path = tmp_path / "x.csv"
    path.write_text("名字,号码\n张三,1\n", encoding="utf-8")
    with session_scope(engine) as session, pytest.raises(importer.BadRegisterFile, match="性别"):
        importer.run(session, LocatorRegistry(engine).active(), client.app.state.cipher, path, "persons")


# -- keys and exports ----------------------------------------------------------------------------
def test_an_export_masks_personal_data_unless_asked_and_is_audited(reg, tmp_path):
    client, engine, _t, grid, *_ = reg
    from layers.access.audit import cli_principal

    someone = _someone(engine, grid)
    path = tmp_path / "persons.csv"
    n = keys.export_persons(engine, client.app.state.cipher, path, by=cli_principal(),
                            personal=False, scope=grid)
    content = path.read_text(encoding="utf-8-sig")
    assert n > 0 and someone["id"] not in content and identity.mask_id(someone["id"]) in content
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'register.export'")) >= 1


def test_rotating_the_key_keeps_every_lookup_working_under_the_new_key(server_url, template_url,
                                                                      tmp_path):
    from layers.access.audit import cli_principal
    from layers.register.crypto import generate_key

    city = generate(BOUNDARY, scale=0.02)
    with scratch_database(server_url) as (_url, engine):
        assert write_validated(engine, city).ok
        old = PersonalData(_decode(TEST_REGISTER_KEY))
        load_register(engine, old, scale=0.02, today=TODAY)
        with engine.connect() as conn:
            blob = conn.scalar(text("SELECT id_cipher FROM persons ORDER BY id LIMIT 1"))
        id_number = old.decrypt(blob, "id")
        new_key = generate_key()
        new = PersonalData(_decode(new_key))
        key_file = tmp_path / "register.key"
        counts = keys.rotate(engine, old, new, key_file, new_key, by=cli_principal())
        assert counts["persons"] > 0 and key_file.read_text().strip() == new_key
        check_key(engine, new)
        with pytest.raises(WrongKey):
            check_key(engine, old)
        with engine.connect() as conn:
            found = conn.scalar(text("SELECT count(*) FROM persons WHERE id_index = :i"),
                                {"i": new.index(id_number, "id")})
        assert found == 1


def test_the_import_command_exits_1_with_a_report_when_a_row_is_rejected(reg, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gridmap.cli import app
    from gridmap.settings import get_settings

    _client, engine, _t, grid, *_ = reg
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    path, report = tmp_path / "人口.csv", tmp_path / "report.csv"
    _persons_file(engine, grid, path, encoding="gbk", bad_row=True)
    try:
        result = CliRunner().invoke(app, ["register", "import", str(path), "--kind", "persons",
                                          "--report", str(report)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "1 rejected" in result.output and "nothing was loaded" in result.output
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("row 行号") and lines[1].startswith("5,id_number")


def _geocode(engine, monkeypatch, path, *args):
    from typer.testing import CliRunner

    from gridmap.cli import app
    from gridmap.settings import get_settings

    monkeypatch.setenv("GRIDMAP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["geocode", str(path), *args])
    finally:
        get_settings.cache_clear()


def _residents_addresses(engine, limit: int) -> list[tuple[str, int]]:
    """(现住址 as the register writes it, the dwelling) for residents of flats and houses."""
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(text("""
            SELECT CASE WHEN d.unit > 0 THEN b.address || d.unit || '单元' || d.room || '室'
                        WHEN d.room = '1' THEN b.address ELSE b.address || '（' || d.room || '户）' END,
                   d.id
            FROM persons p JOIN dwellings d ON d.id = p.dwelling_id
            JOIN buildings b ON b.id = d.building_id
            ORDER BY (d.unit > 0), md5(p.id::text) LIMIT :n"""), {"n": limit})]


def test_geocoding_a_gbk_register_file_answers_each_row_with_its_dwelling_and_grid(reg, tmp_path,
                                                                                 monkeypatch):
    """A register's 现住址 column in a GBK CSV: every row comes back with its building, room,
    the register's dwelling and the grid; never a wrong dwelling (a house's address without a
    household number names the house, not one of its households)."""
    _client, engine, *_ = reg
    rows = _residents_addresses(engine, 400)
    path, out = tmp_path / "人口地址.csv", tmp_path / "located.csv"
    lines = ["姓名,现住址"] + [f"居民{i},{a}" for i, (a, _d) in enumerate(rows)] + ["空地址,",
                                                                                "不存在,火星路1号"]
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    result = _geocode(engine, monkeypatch, path, "--out", str(out))
    assert result.exit_code == 0, result.output
    answers = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [a["姓名"] for a in answers[:len(rows)]] == [f"居民{i}" for i in range(len(rows))]
    for answer, (address, dwelling) in zip(answers, rows, strict=False):
        if "单元" in address or "户" in address:  # a room or household named: that dwelling
            assert answer["dwelling_id"] == str(dwelling), address
        else:  # a house's door plate: the house's only dwelling, or none of its several
            assert answer["dwelling_id"] in ("", str(dwelling)), address
    assert all(a["grid_code"] and a["street_name"] for a in answers[:len(rows)])
    assert answers[-2]["错误"] == "地址为空" and answers[-1]["error"].startswith("the address")


@pytest.mark.process
def test_geocoding_in_two_processes_answers_as_one_does(reg, monkeypatch):
    _client, engine, *_ = reg
    addresses = pd.Series([a for a, _d in _residents_addresses(engine, 3000)])
    with session_scope(engine) as session:
        placer = placing.Placer(session, LocatorRegistry(engine).active(), dwellings=True)
    one = placing.geocode_column(placer, addresses)
    monkeypatch.setattr(placing, "_CHUNK", 500)  # several chunks for the workers
    placer._memo.clear()
    assert placing.geocode_column(placer, addresses, processes=2).equals(one)


@pytest.mark.process
def test_names_in_a_file_geocoded_in_two_processes_are_indexed_once_in_the_parent(reg, monkeypatch):
    """The build puts the organisations' names off (a register's addresses never need them) and
    a forked worker never indexes them (each would pay for it): a chunk that needs them comes
    back, the parent indexes them once and forks again — the answers of one process, in order."""
    _client, engine, *_ = reg
    with engine.connect() as conn:
        names = [n for (n,) in conn.execute(text("SELECT name FROM organisations ORDER BY id LIMIT 40"))]
    addresses = pd.Series([a for a, _d in _residents_addresses(engine, 1500)] + names)

    def placer() -> placing.Placer:
        with session_scope(engine) as session:
            return placing.Placer(session, LocatorRegistry(engine).active(), dwellings=True)

    one = placing.geocode_column(placer(), addresses)
    assert one["building_code"].iloc[-len(names):].notna().all()  # the names are found
    monkeypatch.setattr(placing, "_CHUNK", 400)  # the names in the last chunk only
    forked = placer()
    assert forked.locator.gazetteer._later
    assert placing.geocode_column(forked, addresses, processes=2).equals(one)
    assert not forked.locator.gazetteer._later


@pytest.mark.process
def test_geocoding_on_dask_answers_as_one_process_does(reg, monkeypatch, tmp_path):
    """The same distinct-address chunks placed on a dask.distributed cluster (two worker
    processes, the placer sent once to each): the same answers in the same order, also through
    `gridmap geocode --dask`."""
    from layers.locating.distributed import client_for

    _client, engine, *_ = reg
    addresses = pd.Series([a for a, _d in _residents_addresses(engine, 3000)] + ["", "火星路1号"])
    with session_scope(engine) as session:
        placer = placing.Placer(session, LocatorRegistry(engine).active(), dwellings=True)
    one = placing.geocode_column(placer, addresses)
    monkeypatch.setattr(placing, "_CHUNK", 400)  # several chunks for the workers
    placer._memo.clear()
    client = client_for("local:2")
    try:
        assert placing.geocode_column(placer, addresses, client=client).equals(one)
    finally:
        client.close()
    path, single, on_dask = tmp_path / "a.csv", tmp_path / "one.csv", tmp_path / "dask.csv"
    path.write_text("现住址\n" + "\n".join(addresses[:300]) + "\n", encoding="utf-8")
    assert _geocode(engine, monkeypatch, path, "--out", str(single)).exit_code == 0
    result = _geocode(engine, monkeypatch, path, "--out", str(on_dask), "--dask", "local:1")
    assert result.exit_code == 0, result.output
    assert on_dask.read_bytes() == single.read_bytes()


def test_geocoding_a_file_without_an_address_column_says_which_columns_it_has(reg, tmp_path,
                                                                             monkeypatch):
    _client, engine, *_ = reg
    path = tmp_path / "x.csv"
    path.write_text("姓名,电话\n张三,1\n", encoding="utf-8")
    result = _geocode(engine, monkeypatch, path)
    assert result.exit_code == 1 and "no address column" in result.output
    assert "姓名, 电话" in result.output
