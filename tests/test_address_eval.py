"""The held-out address evaluation (bench/address_eval) as a machine: it writes every class of
query from a small city's truth, reproducibly, and scores them end to end against an in-process
app and through ``gridmap geocode``. These tests check counts, classes and the report's shape —
never accuracy, which is what the evaluation measures."""

from __future__ import annotations

import csv
import json
import random

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from bench.address_eval import answers, score, sets, writers
from bench.address_eval.answers import Answer, Candidate
from bench.address_eval.generate import generate
from bench.address_eval.report import Outcome
from layers.demo.register import load as load_register
from tests.support import scratch_database

CLASSES = {"standard", "variant", "typo", "numeral_name", "landmark", "area", "free_text", "negative"}


@pytest.fixture(scope="module")
def city(server_url, city_template):
    with scratch_database(server_url, pool_size=2, template=city_template) as (url, engine):
        app = create_app(url=url)
        load_register(engine, app.state.cipher, scale=0.05)
        yield url, engine, app


@pytest.fixture(scope="module")
def made(city, tmp_path_factory):
    url, _engine, _app = city
    out = tmp_path_factory.mktemp("address-sets")
    manifest = generate(url, out, seed=7, standard=30, per_form=6)
    return out, manifest


@pytest.fixture(scope="module")
def report(city, made, tmp_path_factory):
    url, _engine, app = city
    out, _manifest = made
    home = tmp_path_factory.mktemp("gridmap-home")  # the bulk command's caches stay out of .gridmap
    with pytest.MonkeyPatch.context() as mp, TestClient(app) as client:
        mp.setenv("GRIDMAP_HOME", str(home))
        scored = score.score_directory(out, client=client, bulk=True, database_url=url,
                                       out=out / "report.json", examples=3, threads=1)
    return scored, json.loads((out / "report.json").read_text(encoding="utf-8"))


def _rows(directory) -> list[dict]:
    return sets.read_sets(directory)


def test_every_class_is_written_with_its_columns_and_the_counts_the_manifest_gives(made):
    out, manifest = made
    for cls, name in sets.SET_FILES.items():
        with (out / name).open(encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert tuple(reader.fieldnames) == sets.COLUMNS
            rows = list(reader)
        assert rows, f"{cls} is empty"
        assert {r["class"] for r in rows} == {cls}
        assert {f: sum(r["form"] == f for r in rows) for f in {r["form"] for r in rows}} \
            == manifest["counts"][cls]
    assert manifest["total"] == len(_rows(out))
    assert set(manifest["counts"]) == CLASSES


def test_every_query_says_what_a_right_answer_is(made):
    out, _ = made
    for r in _rows(out):
        grids = [g for g in r["expected_grids"].split(";") if g]
        assert r["query"].strip()
        if r["expect"] == "none":
            assert r["class"] == "negative" and not grids and not r["expected_grid"]
        elif r["expect"] == "grid":
            assert grids == [r["expected_grid"]]
        else:
            assert r["expect"] == "area" and len(grids) > 1 and not r["expected_grid"]


def test_a_buildings_expected_grid_is_the_grid_gridmap_keeps_for_it(city, made):
    """The truth is PostGIS's ST_Covers of the building's point on surface; gridmap's own
    building_grids table, kept by another path, must agree."""
    _url, engine, _app = city
    out, _ = made
    expected = {r["expected_building"]: r["expected_grid"] for r in _rows(out)
                if r["expected_building"].startswith("BLD") and r["expect"] == "grid"}
    with engine.connect() as conn:
        kept = dict(conn.execute(text(
            "SELECT b.code, bg.grid_code FROM buildings b JOIN building_grids bg ON bg.building_id = b.id "
            "WHERE b.code = ANY(:codes)"), {"codes": list(expected)}).all())
    assert expected and kept == expected


def test_the_same_seed_writes_the_same_sets(city, made, tmp_path):
    url, _engine, _app = city
    out, _ = made
    generate(url, tmp_path, seed=7, standard=30, per_form=6)
    for name in sets.SET_FILES.values():
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_names_with_numeral_characters_are_counted(made):
    _out, manifest = made
    numerals = manifest["numeral_names"]
    assert numerals["compounds"] == len(numerals["compound_names"])
    assert all(writers.has_numeral(n) for n in numerals["compound_names"] + numerals["site_names"])
    assert set(numerals["areas"]) == {"street", "community", "grid"}


def test_negative_controls_write_no_compound_the_district_has(city, made):
    _url, engine, _app = city
    out, _ = made
    with engine.connect() as conn:
        compounds = set(conn.scalars(text(
            "SELECT DISTINCT properties->>'compound' FROM buildings WHERE properties ? 'compound'")))
    invented = [r["query"] for r in _rows(out) if r["form"] == "invented_compound"]
    assert invented and not any(c in q for q in invented for c in compounds)


def test_the_report_scores_every_row_of_every_class_through_the_api(made, report):
    _out, manifest = made
    _scored, body = report
    api = body["channels"]["api"]
    assert api["available"] and api["overall"]["n"] == manifest["total"]
    assert set(api["classes"]) == CLASSES
    for cls, agg in api["classes"].items():
        assert agg["n"] == sum(manifest["counts"][cls].values())
        assert agg["confident_wrong"] + agg["unwarranted"] <= agg["confident"] <= agg["n"]
        assert agg["confident_right"] + agg["confident_wrong"] + agg["unwarranted"] == agg["confident"]
        assert agg["abstained"] + agg["candidates_only"] + agg["confident"] + agg["refused"] \
            + agg["errors"] == agg["n"]
        assert set(api["forms"][cls]) == set(manifest["counts"][cls])
        assert set(api["examples"][cls]) == {"confident_wrong", "unwarranted", "misses"}
    assert body["meta"]["endpoints"]["geocode"].startswith("GET /v1/geocode")


def test_the_free_text_endpoint_is_scored_or_reported_as_not_available(made, report):
    _out, manifest = made
    _scored, body = report
    extract = body["channels"]["extract"]
    if extract["available"]:
        assert extract["overall"]["n"] == sum(manifest["counts"]["free_text"].values())
    else:
        assert "not in the OpenAPI document" in extract["note"]
        assert body["meta"]["endpoints"]["extract"] == "not available"


def test_the_bulk_command_scores_the_same_rows(made, report):
    _out, manifest = made
    _scored, body = report
    bulk = body["channels"]["bulk"]
    assert bulk["available"], bulk.get("note")
    assert bulk["overall"]["n"] == manifest["total"] and body["meta"]["bulk"]["exit_code"] == 0


def test_the_report_is_also_a_table_to_read(made, report):
    out, _ = made
    scored, _body = report
    table = (out / "report.txt").read_text(encoding="utf-8")
    assert table == scored.table(examples=True)
    for heading in ("[api]", "[bulk]", "conf-wrong", "standard", "negative"):
        assert heading in table


# -- the writers and the reading of answers, without a database --------------------------------
def test_chinese_numerals_are_written_as_people_read_numbers():
    assert [writers.cn_int(n) for n in (3, 10, 12, 20, 105, 110, 1403, 1010)] == [
        "三", "十", "十二", "二十", "一百零五", "一百一十", "一千四百零三", "一千零一十"]
    assert writers.cn_digits("502") == "五〇二" and writers.cn_digits(502, "零") == "五零二"


def test_a_typo_never_writes_a_numeral_or_a_word_of_the_address_grammar():
    forbidden = writers.NUMERAL_CHARS | writers.GRAMMAR_CHARS
    assert not [k for k, v in writers.HOMOPHONES.items() if set(v) & forbidden]
    rng = random.Random(1)
    typo = writers.homophone_typo("幸福路", rng, keep_suffix=1)
    assert typo and typo != "幸福路" and typo.endswith("路") and writers.one_apart(typo, "幸福路")


def test_generic_words_are_set_aside_from_a_compounds_distinctive_part():
    assert writers.generic_core("世纪花园") == "世纪" == writers.generic_core("世纪花园小区")
    assert writers.generic_core("吴泰闸府") == "吴泰闸府"


def test_answers_are_read_in_todays_shape_and_in_other_reasonable_ones():
    today = answers.read(200, {"candidates": [{"building": {"code": "BLD1"}, "grid": {"code": "G1"},
                                               "score": 0.6, "confident": False}]})
    assert (today.top.grid, today.top.building, today.confident()) == ("G1", "BLD1", (False, "flag"))
    other = answers.read(200, {"result": {"results": [{"grid_code": "G2", "building_code": "B2",
                                                       "confidence": "high", "reason": "exact"}]}})
    assert (other.top.grid, other.confident()) == ("G2", (True, "flag"))
    unflagged = answers.read(200, {"candidates": [{"grid": "G3", "score": 0.85}]})
    assert unflagged.confident() == (True, "score")
    area = answers.read(200, {"candidates": [{"grids": [{"code": "G4"}], "confident": False}]})
    assert area.top.grid == "G4"
    missing = answers.read(404, {"code": "address_not_found", "error": "…"})
    assert missing.top is None and missing.error == "address_not_found"


def _outcome(expect: str, grids: str, grid: str | None, confident: bool) -> Outcome:
    row = {"class": "c", "form": "f", "expect": expect, "query": "q", "expected_grids": grids}
    candidates = [Candidate(grid, (), None, confident, None, None)] if grid else []
    return Outcome.of(row, "api", Answer(200 if grid else 404, candidates), 0.001)


def test_a_confident_answer_outside_the_truth_is_confident_wrong_and_inside_an_area_unwarranted():
    assert _outcome("grid", "G1", "G2", True).confident_wrong
    assert _outcome("grid", "G1", "G1", True).right and not _outcome("grid", "G1", "G1", True).confident_wrong
    assert _outcome("area", "G1;G2", "G2", True).unwarranted
    assert not _outcome("area", "G1;G2", "G2", False).unwarranted
    assert _outcome("none", "", "G9", True).confident_wrong
    assert _outcome("none", "", None, False).right and _outcome("none", "", None, False).abstained


def test_the_extract_endpoint_and_its_text_field_are_found_in_an_openapi_document():
    doc = {"paths": {
        "/v1/geocode": {"get": {"parameters": [{"name": "q", "in": "query", "required": True},
                                               {"name": "limit", "in": "query"}]}},
        "/v1/geocode/extract": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Extract"}}}}}}},
        "components": {"schemas": {"Extract": {"properties": {"text": {"type": "string"}},
                                               "required": ["text"]}}}}
    found = score.discover(doc)
    assert (found["geocode"].field, found["geocode"].extra) == ("q", {"limit": 5})
    assert (found["extract"].method, found["extract"].field) == ("POST", "text")
    assert score.discover({"paths": {}}) == {"geocode": None, "extract": None}
