"""Hostile files (probe issue 26, LOW): an .xlsx declaring a huge sheet, a zip bomb, a CSV of a
million columns, GPX hiding a DOCTYPE after a long comment or in UTF-16 — each refused with a
message naming the limit, before the work (their timings: bench/bench_hostile.py); and a
database lost in the middle of a register import ends in one clear line, nothing written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bench.hostile_files import (
    gpx_doctype_after_comment,
    gpx_doctype_utf16,
    gpx_utf16,
    huge_dimension,
    small_xlsx,
    wide_csv,
    zip_bomb,
)
from gridmap.settings import Settings
from layers.errors import DomainError
from layers.field.patrols import BadTrack, from_gpx
from layers.limits import Limits, TooLarge
from layers.register.importer import read_table

LIMITS = Limits.of(Settings())


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_small_register_xlsx_is_read():
    frame_rows = len(read_table_bytes(small_xlsx(), ".xlsx"))
    assert frame_rows == 3


def read_table_bytes(data: bytes, suffix: str, limits: Limits = LIMITS):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"register{suffix}"
        path.write_bytes(data)
        return read_table(path, limits=limits)


def test_an_xlsx_declaring_a_million_rows_of_16384_columns_is_refused_naming_the_limit():
    with pytest.raises(TooLarge, match=r"16,384 columns.*GRIDMAP_IMPORT_MAX_COLUMNS"):
        read_table_bytes(huge_dimension(small_xlsx()), ".xlsx")


def test_an_xlsx_zip_bomb_is_refused_before_it_is_unpacked():
    with pytest.raises(TooLarge, match=r"unpacks to .*GRIDMAP_IMPORT_MAX_UNPACKED_BYTES"):
        read_table_bytes(zip_bomb(small_xlsx()), ".xlsx")


def test_an_xlsx_unpacking_to_more_than_the_bound_is_refused():
    tight = replace(LIMITS, import_max_unpacked_bytes=1024)
    with pytest.raises(TooLarge, match="unpacks to"):
        read_table_bytes(small_xlsx(), ".xlsx", tight)


def test_a_csv_of_a_million_columns_is_refused_naming_the_limit():
    with pytest.raises(TooLarge, match="1,000,000 columns; at most 200"):
        read_table_bytes(wide_csv(), ".csv")


def test_a_csv_over_the_row_bound_is_refused():
    data = ("姓名,性别\n" + "张三,男\n" * 50).encode()
    with pytest.raises(TooLarge, match="rows"):
        read_table_bytes(data, ".csv", replace(LIMITS, import_max_rows=10))


def test_a_csv_row_wider_than_its_header_is_a_clear_refusal():
    data = ("姓名,性别\n张三,男\n" + ",".join(["x"] * 500) + "\n").encode()
    with pytest.raises(DomainError, match="one header"):
        read_table_bytes(data, ".csv")


def test_a_file_over_the_size_bound_is_refused_unread():
    with pytest.raises(TooLarge, match="GRIDMAP_IMPORT_MAX_BYTES"):
        read_table_bytes(b"x" * 2048, ".csv", replace(LIMITS, import_max_bytes=1024))


# -- GPX ------------------------------------------------------------------------------------------
def test_a_doctype_after_a_long_comment_is_refused():
    with pytest.raises(BadTrack, match="DOCTYPE"):
        from_gpx(gpx_doctype_after_comment(), LIMITS)


def test_a_doctype_in_utf16_is_refused():
    with pytest.raises(BadTrack, match="DOCTYPE"):
        from_gpx(gpx_doctype_utf16(), LIMITS)


def test_a_plain_gpx_in_utf16_is_read():
    lon, _lat, _t = from_gpx(gpx_utf16(), LIMITS)
    assert len(lon) == 2


def test_a_gpx_track_over_the_point_bound_is_refused():
    with pytest.raises(DomainError, match="GRIDMAP_MAX_TRACK_POINTS"):
        from_gpx(gpx_utf16(), replace(LIMITS, max_track_points=1))


# -- the CLI ----------------------------------------------------------------------------------------
def test_gridmap_register_import_refuses_a_hostile_file_in_one_line(settings_env, tmp_path):
    from gridmap.cli import app

    path = _write(tmp_path, "bomb.xlsx", zip_bomb(small_xlsx()))
    result = CliRunner().invoke(app, ["register", "import", str(path), "--kind", "persons"])
    assert result.exit_code == 1 and "GRIDMAP_IMPORT_MAX_UNPACKED_BYTES" in result.output
    assert "Traceback" not in result.output


def test_a_database_lost_during_a_register_import_ends_in_one_line_and_writes_nothing(
        settings_env, engine, tmp_path, monkeypatch):
    from gridmap.cli import app
    from layers.boundaries.areas import load_district_boundary
    from layers.register import importer
    from layers.storage.db import session_scope
    from tests.support import BOUNDARY

    with session_scope(engine) as session:
        load_district_boundary(session, BOUNDARY)

    def restart(session, *_args, **_kwargs):  # the server goes away under the import
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    monkeypatch.setattr(importer, "run", restart)
    path = _write(tmp_path, "persons.xlsx", small_xlsx())
    result = CliRunner().invoke(app, ["register", "import", str(path), "--kind", "persons"])
    assert result.exit_code == 1, result.output
    assert "connection was lost during the import; nothing was written" in result.output
    assert "Traceback" not in result.output
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM persons")) == 0
