"""The database from the command line: the project-local PostgreSQL cluster (``gridmap db
up/down/status/url``), its read replica (``gridmap db replica …``) and the schema's migrations
(``upgrade``, ``reset``)."""

from __future__ import annotations

from typing import Annotated

import typer

from gridmap.cli.base import Commands, console, engine, err, fail
from gridmap.settings import get_settings

db_app = Commands(help='The database: local cluster and migrations.', no_args_is_help=True)
replica_app = Commands(help='A streaming replica of the local cluster, for reads.', no_args_is_help=True)


@db_app.command("up")
def db_up() -> None:
    """Create (first time) and start the project-local PostGIS cluster under .gridmap/."""
    from layers.storage.db import local_cluster

    settings = get_settings()
    if settings.database_url:
        console.print("GRIDMAP_DATABASE_URL is set: using that server, no local cluster started.")
        return
    cluster = local_cluster(settings)
    cluster.up()
    if cluster.orphaned:
        err.print(f"[yellow]note:[/] an earlier cluster without its .gridmap/cluster.json was "
                  f"stopped and kept in {cluster.orphaned}; a new one was created")
    status = cluster.status()
    console.print(f"PostgreSQL {status.major} + PostGIS running on 127.0.0.1:{status.port} "
                  f"(data in {status.datadir})")


@db_app.command("down")
def db_down() -> None:
    """Stop the local cluster (its data stays)."""
    from layers.storage.db import local_cluster

    stopped = local_cluster().down()
    console.print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """Show whether the local cluster (or the external database) is up."""
    from layers.storage.db import local_cluster

    settings = get_settings()
    if settings.database_url:
        console.print("external database (GRIDMAP_DATABASE_URL)")
        _report_reachability()
        return
    status = local_cluster(settings).status()
    if not status.initialised:
        console.print("no local cluster yet: run `gridmap db up`")
        raise typer.Exit(3)
    console.print(f"{'running' if status.running else 'stopped'}: PostgreSQL {status.major}, "
                  f"port {status.port}, data in {status.datadir}")
    if status.running:
        _report_reachability()
    else:
        raise typer.Exit(3)


def _report_reachability() -> None:
    from layers.storage.health import postgis_version
    from layers.storage.migrate import current_revision_of, head_revision

    try:
        with engine().connect() as conn:
            postgis = postgis_version(conn)
            revision = current_revision_of(conn)
    except Exception as exc:  # noqa: BLE001 - report any failure to the user
        raise fail(f"database unreachable: {exc}") from None
    console.print(f"reachable; PostGIS {postgis or 'not yet created'}; schema revision "
                  f"{revision or 'none'} (head {head_revision()})")


@db_app.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL of the database gridmap uses."""
    from layers.storage.db import database_url

    print(database_url())


def _local_replica_cluster():
    from layers.storage.db import local_cluster

    if get_settings().database_url:
        raise fail("GRIDMAP_DATABASE_URL is set: make the replica on that server (its "
                    "documentation: streaming replication) and set GRIDMAP_DATABASE_READ_URL")
    return local_cluster()


@replica_app.command("up")
def replica_up() -> None:
    """Create (first time) and start a hot standby of the local cluster on loopback."""

    cluster = _local_replica_cluster()
    url = cluster.replica_up()
    port = cluster.status().port
    console.print(f"replica streaming from 127.0.0.1:{port}, serving reads on "
                  f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]} "
                  f"(data in {cluster.replica_datadir})")
    console.print("to read from it: GRIDMAP_DATABASE_READ_URL=$(gridmap db replica url) "
                  "gridmap serve --workers 2")


@replica_app.command("down")
def replica_down() -> None:
    """Stop the replica (its copy stays; `up` starts it again and it catches up)."""
    console.print("stopped" if _local_replica_cluster().replica_down() else "not running")


@replica_app.command("url")
def replica_url() -> None:
    """Print the replica's SQLAlchemy URL (for GRIDMAP_DATABASE_READ_URL)."""

    print(_local_replica_cluster().replica_url())


@replica_app.command("status")
def replica_status() -> None:
    """Whether the replica runs, and how far it is behind the primary."""

    cluster = _local_replica_cluster()
    cluster.replica_url()  # no replica yet: refused, saying how to make one
    if not cluster.replica_running():
        console.print("stopped: `gridmap db replica up` starts it")
        raise typer.Exit(3)
    standby, lag = cluster.replica_lag()
    console.print(f"running: {'hot standby' if standby else 'NOT a standby (promoted?)'}, "
                  f"last replayed transaction {lag:.1f} s ago")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations (creates PostGIS and the schema)."""
    from layers.storage.db import database_url
    from layers.storage.migrate import current_revision, upgrade

    url = database_url()
    upgrade(url, revision)
    console.print(f"schema at revision {current_revision(url)}")
    if revision == "head":
        from gridmap.cli.cases import cases_calendar_seed

        cases_calendar_seed()


@db_app.command("reset")
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="really delete all data")] = False) -> None:
    """Delete every table and migrate again: an empty database (asks for --yes)."""
    from layers.storage.db import database_url
    from layers.storage.migrate import downgrade, upgrade

    if not yes:
        raise fail("this deletes all gridmap data in the database; repeat with --yes")
    url = database_url()
    downgrade(url, "base")
    upgrade(url)
    console.print("database emptied and migrated")
