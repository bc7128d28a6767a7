"""`gridmap export`: the target is one file (GeoPackage) or one folder, nothing beside it;
workers' phone numbers masked unless --personal-data (audited); a GeoPackage GDAL 3.6 opens
without a warning; Shapefile field names said in the CLI output; a masked export imports back
without losing the numbers on file."""

import shutil
import subprocess

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gridmap.cli import app
from layers.interchange.importer import import_path
from tests.support import small_city


@pytest.fixture(scope="module")
def city():
    return small_city()


@pytest.fixture
def db_url(city_db_url):
    """Every test of this module starts from the small demo city (a copy of the session's)."""
    return city_db_url


@pytest.fixture
def loaded(settings_env, engine, city):
    return engine


def _export(*args: str):
    result = CliRunner().invoke(app, ["export", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _phones(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT code, phone FROM workers")).all())


def test_a_geopackage_export_is_one_gpkg_file_and_nothing_beside_it(loaded, tmp_path):
    target = tmp_path / "out" / "x"
    (tmp_path / "out").mkdir()
    output = _export(str(target), "--format", "gpkg")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.gpkg"]
    assert "x.gpkg" in output
    import pyogrio

    assert "workers" in {name for name, _kind in pyogrio.list_layers(tmp_path / "out" / "x.gpkg")}


@pytest.mark.parametrize("fmt", ["geojson", "shp"])
def test_a_folder_export_keeps_everything_inside_the_folder(loaded, tmp_path, fmt):
    _export(str(tmp_path / "out"), "--format", fmt)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (tmp_path / "out" / "workers.csv").exists()


def test_workers_phone_numbers_are_masked_unless_personal_data_is_asked_and_audited(loaded,
                                                                                    tmp_path):
    import pandas as pd

    phones = _phones(loaded)
    output = _export(str(tmp_path / "masked"))
    masked = pd.read_csv(tmp_path / "masked" / "workers.csv", dtype=str)
    assert "masked" in output
    assert all("****" in p for p in masked.phone.dropna()) and len(masked.phone.dropna()) > 0
    assert not set(masked.phone) & set(phones.values())
    _export(str(tmp_path / "full"), "--personal-data")
    full = pd.read_csv(tmp_path / "full" / "workers.csv", dtype=str)
    assert dict(zip(full.code, full.phone, strict=True)) == phones
    with loaded.connect() as conn:
        audited = conn.execute(text("SELECT detail->>'personal_data' FROM audit_log "
                                    "WHERE action = 'export' ORDER BY id")).scalars().all()
    assert audited == ["false", "true"]


def test_a_masked_export_imports_back_without_losing_the_numbers_on_file(loaded, tmp_path):
    phones = _phones(loaded)
    _export(str(tmp_path / "masked"))
    outcome = import_path(loaded, tmp_path / "masked")
    assert outcome.ok
    assert _phones(loaded) == phones


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is needed")
def test_the_installed_gdal_opens_the_geopackage_without_a_warning(loaded, tmp_path):
    _export(str(tmp_path / "out.gpkg"))
    done = subprocess.run(["ogrinfo", "-ro", "-so", str(tmp_path / "out.gpkg")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "buildings" in done.stdout
    assert done.stderr == "", done.stderr


def test_a_shapefile_export_says_which_field_names_were_shortened(loaded, tmp_path):
    output = _export(str(tmp_path / "shp"), "--format", "shp")
    assert "parent_cod = parent_code" in " ".join(output.split())
    assert "areas.fields.json" in output
