"""Import and export: the example imports, exports round-trip, bad input is rejected whole."""

import json
import shutil
from pathlib import Path

import pytest
import shapely
from sqlalchemy import text
from typer.testing import CliRunner

from gridmap.cli import app
from layers.boundaries import generations
from layers.interchange.importer import export_path, import_path, write_validated
from layers.storage.db import session_scope
from tests.support import scratch_database, small_city

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "minimal"
TABLES = ("areas", "buildings", "roads", "alleys", "cameras", "sites", "workers",
          "worker_assignments", "generations")


def snapshot(engine) -> dict:
    """Every row of every table, as text: 'unchanged' means exactly this."""
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) "
                                     f"FROM {t} x")).scalar() for t in TABLES}


@pytest.fixture
def example(tmp_path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


def edit_layer(folder: Path, layer: str, fn) -> None:
    path = folder / f"{layer}.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    fn(data["features"])
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def feature(features, code):
    return next(f for f in features if f["properties"]["code"] == code)


def problems(outcome) -> list[str]:
    return [f"{p.layer} {p.code}: {p.problem}" for p in outcome.report.errors]


# -- the happy paths -------------------------------------------------------------------------------
def test_the_example_dataset_imports_into_an_empty_database(engine):
    outcome = import_path(engine, EXAMPLE)
    assert outcome.ok, problems(outcome)
    assert outcome.written.layers["areas"].inserted == 8
    assert outcome.written.layers["workers"].inserted == 5
    assert outcome.written.generation_status == "active"


def test_importing_the_same_data_twice_changes_nothing(engine):
    import_path(engine, EXAMPLE)
    before = snapshot(engine)
    again = import_path(engine, EXAMPLE)
    assert again.ok and not again.written.changed
    assert snapshot(engine) == before


def test_a_changed_row_is_updated_by_code(engine, example):
    import_path(engine, EXAMPLE)
    edit_layer(example, "buildings",
               lambda fs: feature(fs, "B001")["properties"].update(households=99))
    outcome = import_path(engine, example)
    assert outcome.written.layers["buildings"].updated == 1
    assert outcome.written.layers["buildings"].unchanged == 6
    with engine.connect() as conn:
        assert conn.execute(text("SELECT households FROM buildings WHERE code='B001'")).scalar() == 99


def test_changed_grids_go_to_a_draft_generation_that_can_be_published(engine, example):
    import_path(engine, EXAMPLE)
    edit_layer(example, "areas",
               lambda fs: feature(fs, "37089900100101")["properties"].update(name="西园一网格"))
    outcome = import_path(engine, example)
    assert outcome.written.generation_status == "draft"
    with session_scope(engine) as session:
        assert generations.active(session).id != outcome.written.generation_id
        # today, the day the imported boundaries took effect (a future day would be scheduled)
        generations.publish(session, generations.get(session, outcome.written.generation_id),
                            generations.active(session).effective_from)
    with engine.connect() as conn:
        name = conn.execute(text("""SELECT a.name FROM areas a JOIN generations g ON g.id = a.generation_id
                                    WHERE g.status = 'active' AND a.code = '37089900100101'""")).scalar()
    assert name == "西园一网格"


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp"])
def test_export_of_the_demo_reimports_into_an_empty_database_identically(
        fmt, engine, server_url, template_url, tmp_path):
    city = small_city()
    assert write_validated(engine, city).ok
    target = tmp_path / ("demo.gpkg" if fmt == "gpkg" else "demo")
    export_path(engine, target, fmt)
    with scratch_database(server_url) as (_url, other):
        outcome = import_path(other, target)
        assert outcome.ok, problems(outcome)
        assert outcome.counts == city.counts()
        for table in ("areas", "buildings", "roads", "alleys", "cameras", "sites"):
            with engine.connect() as a, other.connect() as b:
                q = text(f"SELECT code, ST_AsBinary(geom) FROM {table} ORDER BY code")
                left = {c: shapely.from_wkb(bytes(w)) for c, w in a.execute(q)}
                right = {c: shapely.from_wkb(bytes(w)) for c, w in b.execute(q)}
            assert left.keys() == right.keys()
            assert all(left[c].equals_exact(right[c], 0) for c in left), table
        assert snapshot(other)["worker_assignments"] == snapshot(engine)["worker_assignments"]


# -- bad input: a row-level report, and nothing written --------------------------------------------
def rejected(engine, path, **kwargs):
    before = snapshot(engine)
    outcome = import_path(engine, path, **kwargs)
    assert not outcome.ok
    assert outcome.written is None
    assert snapshot(engine) == before
    return problems(outcome)


def test_an_invalid_polygon_is_rejected_and_make_valid_repairs_it(engine, example):
    bowtie = [[[116.55, 35.38], [116.56, 35.39], [116.56, 35.38], [116.55, 35.39], [116.55, 35.38]]]
    edit_layer(example, "sites", lambda fs: feature(fs, "S0002")["geometry"].update(coordinates=bowtie))
    assert any("S0002: invalid geometry: Self-intersection" in p for p in rejected(engine, example))
    repaired = import_path(engine, example, make_valid=True)
    assert repaired.ok
    assert any("repaired" in p.problem for p in repaired.report)


def test_an_empty_geometry_is_rejected(engine, example):
    edit_layer(example, "buildings", lambda fs: feature(fs, "B003").update(geometry=None))
    assert "buildings B003: geometry is missing" in rejected(engine, example)


def test_duplicate_codes_are_rejected(engine, example):
    edit_layer(example, "buildings", lambda fs: feature(fs, "B002")["properties"].update(code="B001"))
    assert "buildings B001: code appears 2 times" in rejected(engine, example)


def test_an_unknown_parent_is_rejected(engine, example):
    edit_layer(example, "areas", lambda fs: feature(fs, "37089900100202")["properties"].update(
        parent_code="370899001009"))
    assert "areas 37089900100202: unknown parent 370899001009" in rejected(engine, example)


def test_a_child_sticking_out_of_its_parent_is_rejected_beyond_the_tolerance(engine, example):
    def grow(fs):
        grid = feature(fs, "37089900100101")
        grid["geometry"]["coordinates"][0] = [[x, y + 0.001 if y > 35.399 else y]
                                              for x, y in grid["geometry"]["coordinates"][0]]
    edit_layer(example, "areas", grow)
    found = rejected(engine, example)
    assert any("37089900100101" in p and "lie outside its parent 370899001001" in p for p in found)


def test_overlapping_sibling_grids_are_rejected(engine, example):
    def shift(fs):
        grid = feature(fs, "37089900100102")
        grid["geometry"]["coordinates"][0] = [[x, y + 0.002] for x, y in grid["geometry"]["coordinates"][0]]
    edit_layer(example, "areas", shift)
    found = rejected(engine, example)
    assert any("overlaps 37089900100102" in p or "overlaps 37089900100101" in p for p in found)
    assert any("a gap of" in p for p in found)


def test_a_gap_between_sibling_grids_is_rejected(engine, example):
    def shrink(fs):
        grid = feature(fs, "37089900100201")
        ring = grid["geometry"]["coordinates"][0]
        grid["geometry"]["coordinates"][0] = [[x, max(y, 35.3905)] for x, y in ring]
    edit_layer(example, "areas", shrink)
    assert any(p.startswith("areas 370899001002: a gap of") for p in rejected(engine, example))


def test_a_worker_assigned_to_an_unknown_grid_is_rejected(engine, example):
    csv = example / "workers.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("37089900100202\n", "37089900100299\n"),
                   encoding="utf-8")
    assert "workers W0004: assigned to unknown grid 37089900100299" in rejected(engine, example)


def test_swapped_coordinates_are_rejected_and_swap_xy_fixes_them(engine, example):
    for layer in ("areas", "buildings", "roads", "alleys", "cameras", "sites"):
        path = example / f"{layer}.geojson"
        data = json.loads(path.read_text(encoding="utf-8"))
        for f in data["features"]:
            if f["geometry"]:
                f["geometry"] = shapely.geometry.mapping(shapely.transform(
                    shapely.geometry.shape(f["geometry"]), lambda c: c[:, ::-1]))
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert any("coordinates look swapped" in p for p in rejected(engine, example))
    assert import_path(engine, example, swap_xy=True).ok


def test_points_outside_china_are_rejected(engine, example):
    edit_layer(example, "cameras", lambda fs: feature(fs, "CAM0001")["geometry"].update(
        coordinates=[2.35, 48.85]))
    assert any("cameras CAM0001: lies outside China" in p for p in rejected(engine, example))


def test_an_unknown_crs_is_rejected_with_the_accepted_forms(engine):
    found = rejected(engine, EXAMPLE, from_crs="mars")
    assert any("unknown CRS 'mars'" in p and "gcj02" in p for p in found)


def test_a_half_broken_file_rejects_the_whole_import(engine, example):
    path = example / "buildings.geojson"
    path.write_text(path.read_text(encoding="utf-8")[:700], encoding="utf-8")
    assert any(p.startswith("buildings : cannot read buildings.geojson") for p in rejected(engine, example))


def test_gcj02_data_lands_on_its_wgs84_position(engine, example):
    from gis.crs import transform_geometry

    for layer in ("areas", "buildings", "roads", "alleys", "cameras", "sites"):
        path = example / f"{layer}.geojson"
        data = json.loads(path.read_text(encoding="utf-8"))
        for f in data["features"]:
            f["geometry"] = shapely.geometry.mapping(
                transform_geometry(shapely.geometry.shape(f["geometry"]), "wgs84", "gcj02"))
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert import_path(engine, example, from_crs="gcj02").ok
    with engine.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE code='CAM0001'")).one()
    assert (x, y) == pytest.approx((116.5585, 35.3921), abs=1e-9)


# -- Shapefiles: GBK, projected, truncated names ---------------------------------------------------
def _example_as_shapefiles(tmp_path, engine) -> Path:
    import_path(engine, EXAMPLE)
    folder = tmp_path / "shp"
    export_path(engine, folder, "shp")
    return folder


def _rewrite_dbf(folder: Path, layer: str, encoding: str, crs: str | None = None) -> None:
    import geopandas as gpd

    frame = gpd.read_file(folder / f"{layer}.shp", encoding="UTF-8")
    if crs:
        frame = frame.to_crs(crs)
    for suffix in (".shp", ".shx", ".dbf", ".cpg", ".prj"):
        (folder / f"{layer}{suffix}").unlink(missing_ok=True)
    frame.to_file(folder / f"{layer}.shp", engine="pyogrio", encoding=encoding)


def test_a_gbk_shapefile_without_cpg_is_detected_and_read_correctly(engine, tmp_path):
    folder = _example_as_shapefiles(tmp_path, engine)
    _rewrite_dbf(folder, "buildings", "GBK")
    (folder / "buildings.cpg").unlink(missing_ok=True)
    raw = (folder / "buildings.dbf").read_bytes()
    assert "曲水苑".encode("gbk") in raw and "曲水苑".encode() not in raw
    outcome = import_path(engine, folder)
    assert outcome.ok, problems(outcome)
    assert any("detected as GBK" in n for n in outcome.notes)
    assert not outcome.written.changed  # same names as before: decoded right


def test_the_encoding_option_overrides_detection(engine, tmp_path):
    folder = _example_as_shapefiles(tmp_path, engine)
    _rewrite_dbf(folder, "buildings", "GBK")
    (folder / "buildings.cpg").unlink(missing_ok=True)
    outcome = import_path(engine, folder, encoding="GBK")
    assert outcome.ok and not outcome.written.changed


def test_a_gauss_kruger_shapefile_is_converted_from_its_prj(engine, tmp_path):
    folder = _example_as_shapefiles(tmp_path, engine)
    _rewrite_dbf(folder, "cameras", "UTF-8", crs="EPSG:4548")
    outcome = import_path(engine, folder)
    assert outcome.ok, problems(outcome)
    with engine.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE code='CAM0001'")).one()
    assert (x, y) == pytest.approx((116.5585, 35.3921), abs=1e-8)


def test_projected_coordinates_without_prj_ask_for_from_crs(engine, tmp_path):
    folder = _example_as_shapefiles(tmp_path, engine)
    for shp in folder.glob("*.shp"):
        _rewrite_dbf(folder, shp.stem, "UTF-8", crs="EPSG:4548")
        (folder / f"{shp.stem}.prj").unlink()
    assert any("look projected" in p for p in rejected(engine, folder))
    outcome = import_path(engine, folder, from_crs="EPSG:4548")
    assert outcome.ok and not outcome.written.layers["cameras"].updated


# -- the CLI ---------------------------------------------------------------------------------------
def test_cli_import_of_bad_data_exits_nonzero_and_writes_the_report(settings_env, example, tmp_path):
    edit_layer(example, "buildings", lambda fs: feature(fs, "B002")["properties"].update(code="B001"))
    report = tmp_path / "report.csv"
    result = CliRunner().invoke(app, ["import", str(example), "--report", str(report)])
    assert result.exit_code == 1
    assert "nothing was written" in result.output
    assert "B001,code appears 2 times" in report.read_text(encoding="utf-8")


def test_cli_demo_load_then_export(settings_env, tmp_path):
    runner = CliRunner()
    loaded = runner.invoke(app, ["demo", "load", "--scale", "0.03"])
    assert loaded.exit_code == 0, loaded.output
    exported = runner.invoke(app, ["export", str(tmp_path / "out.gpkg")])
    assert exported.exit_code == 0 and (tmp_path / "out.gpkg").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]  # workers inside, nothing beside


def test_a_camera_heading_of_360_or_a_view_wider_than_a_circle_is_a_row_level_error(engine, example):
    """The database would refuse them (a constraint): the report says which camera and why
    first, and nothing is written."""
    before = snapshot(engine)

    def turn(features):
        cams = [f for f in features if f["properties"].get("fov_deg") is not None]
        cams[0]["properties"]["heading_deg"] = 360.0
        cams[-1]["properties"]["fov_deg"] = 400.0

    edit_layer(example, "cameras", turn)
    outcome = import_path(engine, example)
    found = problems(outcome)
    assert not outcome.ok and snapshot(engine) == before
    assert any("'heading_deg' is 360.0" in p for p in found), found
    assert any("'fov_deg' is 400.0" in p for p in found), found
