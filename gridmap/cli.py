"""``gridmap`` — the single command-line entry point."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gridmap.settings import get_settings

app = typer.Typer(help="gridmap: 网格化服务管理空间底座", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="The database: local cluster and migrations.", no_args_is_help=True)
gen_app = typer.Typer(help="Boundary generations.", no_args_is_help=True)
user_app = typer.Typer(help="API credentials.", no_args_is_help=True)
areas_app = typer.Typer(help="Areas of the hierarchy.", no_args_is_help=True)
boundary_app = typer.Typer(help="The district boundary in data/boundaries.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(gen_app, name="generations")
app.add_typer(user_app, name="user")
app.add_typer(areas_app, name="areas")
app.add_typer(boundary_app, name="boundary")

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(1)


def _engine():
    from layers.cluster import ClusterError
    from layers.db import database_url, engine_for

    try:
        return engine_for(database_url())
    except ClusterError as exc:
        raise _fail(str(exc)) from None


# -- db ------------------------------------------------------------------------------------------
@db_app.command("up")
def db_up() -> None:
    """Create (first time) and start the project-local PostGIS cluster under .gridmap/."""
    from layers.cluster import ClusterError
    from layers.db import local_cluster

    settings = get_settings()
    if settings.database_url:
        console.print("GRIDMAP_DATABASE_URL is set: using that server, no local cluster started.")
        return
    try:
        url = local_cluster(settings).up()
    except ClusterError as exc:
        raise _fail(str(exc)) from None
    status = local_cluster(settings).status()
    console.print(f"PostgreSQL {status.major} + PostGIS running on 127.0.0.1:{status.port} "
                  f"(data in {status.datadir})")
    del url


@db_app.command("down")
def db_down() -> None:
    """Stop the local cluster (its data stays)."""
    from layers.db import local_cluster

    stopped = local_cluster().down()
    console.print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """Show whether the local cluster (or the external database) is up."""
    from layers.db import local_cluster

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
    from sqlalchemy import text

    from layers.migrate import current_revision_of, head_revision

    try:
        with _engine().connect() as conn:
            postgis = conn.execute(text("SELECT extversion FROM pg_extension "
                                        "WHERE extname = 'postgis'")).scalar()
            revision = current_revision_of(conn)
    except Exception as exc:
        raise _fail(f"database unreachable: {exc}") from None
    console.print(f"reachable; PostGIS {postgis or 'not yet created'}; schema revision "
                  f"{revision or 'none'} (head {head_revision()})")


@db_app.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL of the database gridmap uses."""
    from layers.cluster import ClusterError
    from layers.db import database_url

    try:
        print(database_url())
    except ClusterError as exc:
        raise _fail(str(exc)) from None


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations (creates PostGIS and the schema)."""
    from layers.db import database_url
    from layers.migrate import current_revision, upgrade

    url = database_url()
    upgrade(url, revision)
    console.print(f"schema at revision {current_revision(url)}")


# -- boundary / areas ----------------------------------------------------------------------------
@boundary_app.command("load")
def boundary_load() -> None:
    """Load the district boundary (data/boundaries/<code>.geojson) into the active generation."""
    from layers.areas import load_district_boundary
    from layers.db import session_scope

    settings = get_settings()
    path = settings.boundaries_dir / f"{settings.district_code}.geojson"
    if not path.exists():
        raise _fail(f"{path} not found: set GRIDMAP_DISTRICT_CODE or add the boundary file")
    with session_scope(_engine()) as session:
        generation, changed = load_district_boundary(session, path)
        gen_id = generation.id
    console.print(f"district {settings.district_code} {'loaded' if changed else 'unchanged'} "
                  f"in generation {gen_id}")


@areas_app.command("show")
def areas_show(code: str, at: Annotated[str | None, typer.Option(help="ISO date")] = None) -> None:
    """Show an area and its area in km² (computed on the ellipsoid, in metres)."""
    from layers import areas, generations
    from layers.db import session_scope

    with session_scope(_engine()) as session:
        gen = (generations.in_force_on(session, dt.date.fromisoformat(at)) if at
               else generations.active(session))
        if gen is None:
            raise _fail("no boundaries in force; run `gridmap boundary load` or `gridmap demo load`")
        try:
            info = areas.info(session, code, gen)
        except areas.AreaNotFound as exc:
            raise _fail(str(exc)) from None
    console.print(f"{info.code} {info.name} ({info.level}), generation {info.generation_id}: "
                  f"{info.area_km2:.2f} km², {info.children} children")


# -- generations ---------------------------------------------------------------------------------
@gen_app.command("list")
def generations_list() -> None:
    """List boundary generations."""
    from layers import generations
    from layers.db import session_scope

    table = Table("id", "name", "status", "effective from", "effective to")
    with session_scope(_engine()) as session:
        for g in generations.list_all(session):
            table.add_row(str(g.id), g.name, g.status.value, str(g.effective_from or ""),
                          str(g.effective_to or ""))
    console.print(table)


@gen_app.command("publish")
def generations_publish(
    generation_id: int,
    effective_from: Annotated[str | None, typer.Option(help="ISO date; default today")] = None,
) -> None:
    """Make a draft generation active (the current one is retired), atomically."""
    from layers import generations
    from layers.db import session_scope

    day = dt.date.fromisoformat(effective_from) if effective_from else None
    try:
        with session_scope(_engine()) as session:
            generations.publish(session, generations.get(session, generation_id), day)
    except generations.GenerationError as exc:
        raise _fail(str(exc)) from None
    console.print(f"generation {generation_id} is active")


# -- users ---------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option("--role", help="worker|dispatcher|planner|admin")],
    scope: Annotated[str | None, typer.Option("--scope", help="area code the user may touch")] = None,
) -> None:
    """Create an API user; the token is printed once, as the last word of the output."""
    from layers import users
    from layers.db import session_scope

    try:
        with session_scope(_engine()) as session:
            _user, token = users.add(session, name, role, scope)
    except users.UserError as exc:
        raise _fail(str(exc)) from None
    print(f"created {role} {name} (scope {scope or 'whole district'}); token: {token}")


# -- serve / bench -------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default GRIDMAP_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default GRIDMAP_PORT or 8000")] = None,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Serve the API (docs at /docs, liveness at /healthz)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("api.main:app", host=host or settings.host, port=port or settings.port,
                workers=workers, log_level="info")


@app.command()
def up(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Everything a newcomer needs: database up, schema, district data, then serve."""
    db_up()
    db_upgrade()
    boundary_load()
    console.print(f"serving on http://{host or get_settings().host}:{port or get_settings().port}")
    serve(host=host, port=port)


@app.command()
def bench(
    only: Annotated[list[str] | None, typer.Option(help="run only these benchmarks")] = None,
) -> None:
    """Run the benchmarks in bench/ and print a table with the machine description."""
    from bench.runner import main as bench_main

    raise typer.Exit(bench_main(only or []))


