"""The gridmap CLI against the test database (GRIDMAP_DATABASE_URL)."""

import pytest
from typer.testing import CliRunner

from gridmap.cli import app

runner = CliRunner()


def test_boundary_load_then_areas_show_reports_km2(settings_env):
    assert "loaded" in runner.invoke(app, ["boundary", "load"]).output
    assert "unchanged" in runner.invoke(app, ["boundary", "load"]).output
    result = runner.invoke(app, ["areas", "show", "370811"])
    assert result.exit_code == 0
    assert "任城区" in result.output and "km²" in result.output


def test_user_add_prints_the_token_as_the_last_word(settings_env):
    assert runner.invoke(app, ["boundary", "load"]).exit_code == 0  # a scope must exist
    result = runner.invoke(app, ["user", "add", "zhang", "--role", "dispatcher",
                                 "--scope", "370811"])
    assert result.exit_code == 0
    assert result.output.split()[-1].startswith("gm_")


def test_user_add_with_a_bad_role_fails_with_a_message(settings_env):
    result = runner.invoke(app, ["user", "add", "li", "--role", "boss"])
    assert result.exit_code == 1 and "unknown role" in result.output


def test_publishing_an_unknown_generation_fails_clearly(settings_env):
    result = runner.invoke(app, ["generations", "publish", "42"])
    assert result.exit_code == 1 and "no generation 42" in result.output


def test_areas_show_on_an_empty_database_says_what_to_run(settings_env):
    result = runner.invoke(app, ["areas", "show", "370811"])
    assert result.exit_code == 1 and "gridmap boundary load" in result.output


@pytest.mark.parametrize("args", [
    ["demo", "load", "--scale", "0"],
    ["demo", "load", "--scale", "9"],
    ["cases", "escalate", "--now", "yesterday"],
    ["generations", "publish", "1", "--effective-from", "soon"],
    ["cases", "holiday", "not-a-day"],
])
def test_bad_input_gets_a_message_not_a_traceback(settings_env, args):
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "error:" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_a_database_never_migrated_is_refused_saying_to_upgrade(server_url, monkeypatch):
    from gridmap.settings import get_settings
    from tests.support import drop_database, new_database

    url = new_database(server_url, "template0")  # a database, but no gridmap schema in it
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["demo", "load", "--scale", "0.05"])
        assert result.exit_code == 1, result.output
        assert "gridmap db upgrade" in result.output and "Traceback" not in result.output
    finally:
        get_settings.cache_clear()
        from layers.storage.db import engine_for

        engine_for.cache_clear()
        drop_database(server_url, url)


def test_a_database_migrated_by_a_newer_gridmap_is_not_told_to_upgrade(server_url, monkeypatch):
    import psycopg

    from gridmap.settings import get_settings
    from layers.storage.db import engine_for
    from tests.support import drop_database, new_database

    url = new_database(server_url, "template0")
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["demo", "load", "--scale", "0.05"])
        assert result.exit_code == 1, result.output
        assert "a newer gridmap migrated it" in result.output
        assert "gridmap db upgrade" not in result.output
    finally:
        get_settings.cache_clear()
        engine_for.cache_clear()
        drop_database(server_url, url)
