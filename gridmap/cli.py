"""``gridmap`` — the single command-line entry point.

Why this module is long: it is the one table of commands an operator reads top to bottom; each
command is a few lines that parse options, call one domain function in layers/ and print. Every
import is inside its command, so ``gridmap --help`` starts fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gridmap.settings import get_settings
from layers import clock

app = typer.Typer(help="gridmap: 网格化服务管理空间底座", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="The database: local cluster and migrations.", no_args_is_help=True)
gen_app = typer.Typer(help="Boundary generations.", no_args_is_help=True)
user_app = typer.Typer(help="API credentials.", no_args_is_help=True)
areas_app = typer.Typer(help="Areas of the hierarchy.", no_args_is_help=True)
boundary_app = typer.Typer(help="The district boundary in data/boundaries.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo city: Rencheng, or the whole of Jining.", no_args_is_help=True)
app.add_typer(db_app, name="db")
replica_app = typer.Typer(help="A streaming replica of the local cluster, for reads.",
                          no_args_is_help=True)
db_app.add_typer(replica_app, name="replica")
app.add_typer(gen_app, name="generations")
app.add_typer(user_app, name="user")
app.add_typer(areas_app, name="areas")
app.add_typer(boundary_app, name="boundary")
app.add_typer(demo_app, name="demo")
plans_app = typer.Typer(help="Planning: drafts of the grid boundaries.", no_args_is_help=True)
app.add_typer(plans_app, name="plans")
cases_app = typer.Typer(help="Cases.", no_args_is_help=True)
routing_app = typer.Typer(help="Routing tables (categories, departments).", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(routing_app, name="routing")
register_app = typer.Typer(help="The register (实有人口·实有房屋·实有单位) and its key.",
                           no_args_is_help=True)
app.add_typer(register_app, name="register")
from gridmap.addresses_cli import addresses_app  # noqa: E402 (a command group of its own module)

app.add_typer(addresses_app, name="addresses")

console = Console(soft_wrap=True)  # never break paths or URLs across lines
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(1)


def _engine():
    from layers.storage.cluster import ClusterError
    from layers.storage.db import database_url, engine_for

    try:
        return engine_for(database_url())
    except ClusterError as exc:
        raise _fail(str(exc)) from None


# -- db ------------------------------------------------------------------------------------------
@db_app.command("up")
def db_up() -> None:
    """Create (first time) and start the project-local PostGIS cluster under .gridmap/."""
    from layers.storage.cluster import ClusterError
    from layers.storage.db import local_cluster

    settings = get_settings()
    if settings.database_url:
        console.print("GRIDMAP_DATABASE_URL is set: using that server, no local cluster started.")
        return
    cluster = local_cluster(settings)
    try:
        cluster.up()
    except ClusterError as exc:
        raise _fail(str(exc)) from None
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
        with _engine().connect() as conn:
            postgis = postgis_version(conn)
            revision = current_revision_of(conn)
    except Exception as exc:  # noqa: BLE001 - report any failure to the user
        raise _fail(f"database unreachable: {exc}") from None
    console.print(f"reachable; PostGIS {postgis or 'not yet created'}; schema revision "
                  f"{revision or 'none'} (head {head_revision()})")


@db_app.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL of the database gridmap uses."""
    from layers.storage.cluster import ClusterError
    from layers.storage.db import database_url

    try:
        print(database_url())
    except ClusterError as exc:
        raise _fail(str(exc)) from None


def _local_replica_cluster():
    from layers.storage.db import local_cluster

    if get_settings().database_url:
        raise _fail("GRIDMAP_DATABASE_URL is set: make the replica on that server (its "
                    "documentation: streaming replication) and set GRIDMAP_DATABASE_READ_URL")
    return local_cluster()


@replica_app.command("up")
def replica_up() -> None:
    """Create (first time) and start a hot standby of the local cluster on loopback."""
    from layers.storage.cluster import ClusterError

    cluster = _local_replica_cluster()
    try:
        url = cluster.replica_up()
    except ClusterError as exc:
        raise _fail(str(exc)) from None
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
    from layers.storage.cluster import ClusterError

    try:
        print(_local_replica_cluster().replica_url())
    except ClusterError as exc:
        raise _fail(str(exc)) from None


@replica_app.command("status")
def replica_status() -> None:
    """Whether the replica runs, and how far it is behind the primary."""
    import psycopg

    from layers.storage.cluster import ClusterError

    cluster = _local_replica_cluster()
    try:
        url = cluster.replica_url().replace("+psycopg", "")
    except ClusterError as exc:
        raise _fail(str(exc)) from None
    if not cluster.replica_running():
        console.print("stopped: `gridmap db replica up` starts it")
        raise typer.Exit(3)
    with psycopg.connect(url, connect_timeout=5) as conn:
        standby, lag = conn.execute(
            "SELECT pg_is_in_recovery(), EXTRACT(EPOCH FROM now() - "
            "pg_last_xact_replay_timestamp())").fetchone()
    console.print(f"running: {'hot standby' if standby else 'NOT a standby (promoted?)'}, "
                  f"last replayed transaction {lag or 0:.1f} s ago")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations (creates PostGIS and the schema)."""
    from layers.storage.db import database_url
    from layers.storage.migrate import current_revision, upgrade

    url = database_url()
    upgrade(url, revision)
    console.print(f"schema at revision {current_revision(url)}")
    if revision == "head":
        cases_calendar_seed()


@db_app.command("reset")
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="really delete all data")] = False) -> None:
    """Delete every table and migrate again: an empty database (asks for --yes)."""
    from layers.storage.db import database_url
    from layers.storage.migrate import downgrade, upgrade

    if not yes:
        raise _fail("this deletes all gridmap data in the database; repeat with --yes")
    url = database_url()
    downgrade(url, "base")
    upgrade(url)
    console.print("database emptied and migrated")


# -- boundary / areas ----------------------------------------------------------------------------
@boundary_app.command("load")
def boundary_load() -> None:
    """Load the district boundary (data/boundaries/<code>.geojson) into the active generation."""
    from layers.boundaries.areas import load_district_boundary
    from layers.storage.db import session_scope

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
    from layers.boundaries import areas, generations
    from layers.storage.db import session_scope

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


# -- demo / import / export ----------------------------------------------------------------------
def _print_outcome(outcome, report_path: Path | None) -> None:
    from layers.interchange.spreadsheet import safe_row
    from layers.interchange.validate import Problem

    for note in outcome.notes:
        console.print(f"[dim]note:[/] {note}")
    if outcome.report:
        table = Table("layer", "code", "problem", "how to fix", title="validation report")
        for p in outcome.report[:40]:
            style = "red" if p.severity == "error" else "yellow"
            table.add_row(p.layer, p.code, f"[{style}]{p.problem}[/]", p.fix)
        console.print(table)
        if len(outcome.report) > 40:
            console.print(f"… and {len(outcome.report) - 40} more rows"
                          + ("" if report_path else " (write them all with --report FILE.csv)"))
    if report_path is not None:
        import csv

        with report_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(Problem.__dataclass_fields__)
            writer.writerows([safe_row([p.layer, p.code, p.problem, p.fix, p.severity])
                              for p in outcome.report])
        console.print(f"report written to {report_path}")
    if outcome.written is not None:
        table = Table("layer", "inserted", "updated", "unchanged", title="written")
        for name, r in outcome.written.layers.items():
            table.add_row(name, f"{r.inserted:,}", f"{r.updated:,}", f"{r.unchanged:,}")
        console.print(table)
        if outcome.written.areas_note:
            console.print(outcome.written.areas_note)


@demo_app.command("load")
def demo_load(
    scale: Annotated[float, typer.Option(help="1 = the full district; 0.05 = a small test city")] = 1.0,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same city")] = 370811,
    boundary: Annotated[str, typer.Option(
        help="lay the demo out inside data/boundaries/CODE.geojson: 370811 = Rencheng; 370800 = "
             "the whole city of Jining, a demo district in each of its 11 real counties "
             "(~9,600 grids; the register for Rencheng only)")] = "370811",
) -> None:
    """Generate the demo city and load it (validated, atomic, idempotent)."""
    import time

    from rich.progress import Progress

    from layers.demo import counties
    from layers.demo.city import RENCHENG
    from layers.demo.loader import load_extras
    from layers.interchange.importer import write_validated
    from layers.register.crypto import MissingKey, personal_data

    settings = get_settings()
    try:
        cipher = personal_data(settings)  # the register's personal data is encrypted as it loads
    except MissingKey as exc:
        raise _fail(str(exc)) from None
    path = settings.boundaries_dir / f"{boundary}.geojson"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in settings.boundaries_dir.glob("*.geojson")))
        raise _fail(f"no boundary {boundary}: {path} does not exist (known: {known})")
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating the demo city", total=3)
        try:
            dataset = counties.generate_city(path, scale=scale, seed=seed)
        except ValueError as exc:  # bad input, or a scale the generator cannot lay out yet
            raise _fail(f"cannot generate the demo city at scale {scale}: {exc}; scales from "
                        "0.05 to 8 are accepted (8× Rencheng is about Jining's size)") from None
        progress.update(task, advance=1, description="validating and writing to PostGIS")
        name = f"演示城市 demo (scale {scale})" if boundary == RENCHENG.code else \
            f"演示城市 demo {boundary} (scale {scale})"
        outcome = write_validated(_engine(), dataset, draft_name=name)
        progress.update(task, advance=1,
                        description="case history and register, side by side (first load only)")
        from layers.storage.db import database_url

        # as many cases per resident as Rencheng's history; the register of one county
        n_cases, register = load_extras(
            database_url(), cipher, scale=scale, seed=seed, flag_m=settings.visit_distance_m,
            cases_scale=scale * counties.residents(path) / RENCHENG.population,
            register_area=counties.registered_county(path)) if outcome.ok else (0, {})
        progress.update(task, advance=1)
    _print_outcome(outcome, None)
    if not outcome.ok:
        raise _fail("the demo city failed validation (a bug: please report it)")
    counts = ", ".join(f"{k} {v:,}" for k, v in {**outcome.counts, "cases": n_cases,
                                                   **register}.items())
    console.print(f"demo city {boundary} (scale {scale}) in {time.perf_counter() - started:.1f} s: "
                  f"{counts}")
    labels = {"overloaded": "overloaded grids (新建小区, over 1,000 households)",
              "unstaffed": "grid without a worker (待配备网格员)",
              "merged": "merged village, two grids (合村并居)"}
    for kind, codes in dataset.notes.items():
        if codes:
            console.print(f"  planning situation — {labels.get(kind, kind)}: {', '.join(codes)}")


@app.command("import")
def import_(
    path: Path,
    from_crs: Annotated[str | None,
                        typer.Option(help="gcj02|bd09|cgcs2000|EPSG:n; overrides the file")] = None,
    encoding: Annotated[str | None, typer.Option(help="Shapefile/CSV text encoding, e.g. GBK")] = None,
    make_valid: Annotated[bool, typer.Option(help="repair invalid geometries (reported)")] = False,
    swap_xy: Annotated[bool, typer.Option(help="the file has latitude first: swap")] = False,
    tolerance: Annotated[float, typer.Option(help="topology tolerance in metres")] = 1.0,
    dry_run: Annotated[bool, typer.Option(help="validate only; write nothing")] = False,
    report: Annotated[Path | None, typer.Option(help="write the full row-level report as CSV")] = None,
) -> None:
    """Import a folder of GeoJSON/Shapefiles or a GeoPackage (docs/data-format.md)."""
    from layers.errors import DomainError
    from layers.interchange.importer import import_path

    try:
        outcome = import_path(_engine(), path, from_crs=from_crs, encoding=encoding,
                              swap_xy=swap_xy, make_valid=make_valid, tolerance_m=tolerance,
                              dry_run=dry_run)
    except DomainError as exc:  # a file over the import bounds
        raise _fail(str(exc)) from None
    _print_outcome(outcome, report)
    if not outcome.ok:
        raise _fail(f"{len(outcome.report.errors)} problem(s); nothing was written")
    if dry_run:
        console.print("valid; nothing written (--dry-run)")


@app.command("export")
def export(
    path: Path,
    format: Annotated[str | None, typer.Option(help="geojson (folder), gpkg (file) or shp (folder)")] = None,
    generation: Annotated[int | None, typer.Option(help="areas of this generation; default active")] = None,
    personal_data: Annotated[bool, typer.Option(
        "--personal-data", help="workers' phone numbers in full (audited); default masked")] = False,
) -> None:
    """Export everything in the interchange format, so that export → import round-trips: a
    GeoPackage is one file (workers inside), GeoJSON and Shapefiles one folder."""
    from layers.boundaries.generations import GenerationError
    from layers.errors import DomainError
    from layers.interchange.formats import field_names, target_path
    from layers.interchange.importer import export_path

    fmt = format or ("gpkg" if path.suffix.lower() == ".gpkg" else "geojson")
    try:
        written = export_path(_engine(), path, fmt, generation, personal_data=personal_data)
    except (GenerationError, DomainError, ValueError) as exc:
        raise _fail(str(exc)) from None
    target = target_path(path, fmt)
    what = "one GeoPackage" if fmt == "gpkg" else f"{len(written)} file(s) in the folder"
    console.print(f"wrote {what} {target}; workers' phone numbers "
                  + ("in full (personal data, audited)" if personal_data else
                     "masked (--personal-data for the full numbers)"))
    if fmt == "shp":  # Shapefile field names are at most 10 characters
        for layer, names in field_names(target).items():
            pairs = ", ".join(f"{short} = {full}" for short, full in names.items())
            console.print(f"{layer}.shp field names: {pairs} (also in {layer}.fields.json)")


@app.command("locate")
def locate_file(
    path: Path,
    crs: Annotated[str, typer.Option(help="CRS of the points: wgs84|gcj02|bd09|cgcs2000|EPSG:n")] = "wgs84",
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
    at: Annotated[str | None, typer.Option(help="boundaries in force on this ISO date")] = None,
    dask: Annotated[str | None, typer.Option(
        help="locate a CSV on Dask: 'local' (or local:N workers) or a scheduler address "
             "(tcp://host:8786; the workers must read the file's path)")] = None,
) -> None:
    """Locate every point of a CSV, JSON, GeoJSON or NDJSON file; same format out, same order."""
    content_type = {".csv": "text/csv", ".ndjson": "application/x-ndjson",
                    ".jsonl": "application/x-ndjson", ".geojson": "application/geo+json"}.get(
        path.suffix.lower(), "application/json")
    if dask is not None:
        if content_type != "text/csv":
            raise _fail("--dask locates CSV files; convert the file or leave --dask out")
        return _locate_csv_on_dask(path, crs, out, at, dask)
    if content_type == "text/csv":
        return _locate_csv(path, crs, out, at)
    import sys

    from rich.progress import Progress

    from layers.errors import DomainError
    from layers.locating.batch import locate_rows, parse_batch, render_batch
    from layers.locating.locators import LocatorRegistry

    try:
        fmt, rows = parse_batch(path.read_bytes(), content_type)
        locator = LocatorRegistry(_engine()).on(dt.date.fromisoformat(at) if at else None)
    except (DomainError, OSError) as exc:
        raise _fail(str(exc)) from None
    sink = out.open("wb") if out else sys.stdout.buffer
    located = 0
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("locating", total=len(rows))

        def counted():
            for answer in locate_rows(locator, rows, crs):
                yield answer
                progress.advance(task)

        for chunk in render_batch(fmt, rows, counted()):
            sink.write(chunk)
        located = len(rows)
    if out:
        sink.close()
        err.print(f"{located:,} rows located into {out}")


def _start_numba_without_blas() -> None:
    """Start numba's compiled-code machinery with scipy.linalg hidden: on its first dispatch
    numba probes for a BLAS by importing scipy.linalg (0.2 s of a 2 s command), and the locate
    and CSV kernels use no linear algebra. Only this command's process is affected; the module
    is visible again right after."""
    import sys

    import numpy as np

    from layers.locating.csv_kernel import line_bounds

    hidden = "scipy.linalg" not in sys.modules
    if hidden:
        sys.modules["scipy.linalg"] = None  # type: ignore[assignment]
    try:
        line_bounds(np.zeros(1, dtype=np.uint8))
    finally:
        if hidden:
            del sys.modules["scipy.linalg"]


def _points_locator(at: str | None):
    """The points-only locator of the bulk commands: for ``at``'s boundaries, else the active
    generation's from its on-disk snapshot when still current (layers/locating/snapshot.py)."""
    from layers.locating.snapshot import points_locator
    from layers.storage.cluster import database_url

    def build():  # the ORM is imported only when the snapshot cannot serve
        from layers.locating.locators import for_points

        return for_points(_engine(), dt.date.fromisoformat(at) if at else None)

    return build() if at else points_locator(database_url(), get_settings().home / "cache", build)


def _locate_csv(path: Path, crs: str, out: Path | None, at: str | None) -> None:
    """CSV takes the columnar path: streamed in chunks, located and written as arrays; the
    active generation's locator comes from its on-disk snapshot when it is still current
    (layers/locating/snapshot.py), and a writer thread writes while the next chunk is located."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from layers.errors import DomainError
    from layers.locating.bulk import locate_csv
    from layers.storage.cluster import ClusterError

    with ThreadPoolExecutor(1) as starter:
        numba_ready = starter.submit(_start_numba_without_blas)  # while the database answers
        try:
            locator = _points_locator(at)
            source = path.open(encoding="utf-8-sig", newline="")
        except (DomainError, OSError, ValueError, ClusterError) as exc:
            raise _fail(str(exc)) from None
        numba_ready.result()
    total = path.stat().st_size
    sink = out.open("wb") if out else sys.stdout.buffer
    rows = 0
    with source, ThreadPoolExecutor(1) as writer, Progress(
            TextColumn("locating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True) as progress:
        task = progress.add_task("locating", total=None)

        def advance(n: int) -> None:
            nonlocal rows
            rows += n
            progress.update(task, completed=rows)

        pending = None
        try:
            for chunk in locate_csv(locator, source, crs, progress=advance):
                if pending is not None:
                    pending.result()  # one chunk in flight: memory stays bounded
                pending = writer.submit(sink.write, chunk)
            if pending is not None:
                pending.result()
        except (DomainError, ValueError) as exc:
            raise _fail(str(exc)) from None
        except UnicodeDecodeError:
            raise _fail(f"{path} is not UTF-8 text; save it as UTF-8 (CSV UTF-8 in Excel)") from None
    if out:
        sink.close()
        err.print(f"{rows:,} rows located into {out} ({total / 2**20:,.0f} MiB read)")


def _locate_csv_on_dask(path: Path, crs: str, out: Path | None, at: str | None,
                        address: str) -> None:
    """The CSV located block by block on a Dask cluster (layers/locating/distributed.py): the
    same bytes out as without --dask, in the same order."""
    import sys
    import time

    from layers.errors import DomainError
    from layers.locating import distributed
    from layers.storage.cluster import ClusterError

    if not path.exists():
        raise _fail(f"no such file: {path}")
    started = time.perf_counter()
    try:
        locator = _points_locator(at)
        client = distributed.client_for(address)
    except (DomainError, ValueError, ClusterError) as exc:
        raise _fail(str(exc)) from None
    sink = out.open("wb") if out else sys.stdout.buffer
    try:
        workers = len(client.scheduler_info()["workers"])
        for chunk in distributed.locate_csv(client, str(path.resolve()), locator, crs):
            sink.write(chunk)
    except (DomainError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        client.close()
        if out:
            sink.close()
    err.print(f"located on Dask ({workers} workers) in {time.perf_counter() - started:.1f} s"
              + (f" into {out}" if out else ""))


ADDRESS_HEADERS = ("address", "地址", "现住址", "住址", "详细地址", "房屋地址")


@app.command("geocode")
def geocode_file(
    path: Path,
    column: Annotated[str | None, typer.Option(
        help="the address column; default: the first of " + ", ".join(ADDRESS_HEADERS))] = None,
    encoding: Annotated[str | None, typer.Option(help="of a CSV file; default: UTF-8, else GBK")] = None,
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
    dask: Annotated[str | None, typer.Option(
        help="geocode on Dask: 'local' (or local:N workers) or a scheduler address "
             "(tcp://host:8786)")] = None,
) -> None:
    """Geocode every address of a CSV or .xlsx file (a register's 现住址, door plates, village
    houses, places, compounds, villages) to its building or place, unit, room, the register's
    dwelling and the grid, exactly as GET /v1/geocode answers it: ``confident`` and, when not,
    the ``reason``; the input's columns come out as they went in, the answer after them (CSV,
    UTF-8 with BOM)."""
    import os
    import sys
    import time

    import pandas as pd
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from layers.errors import DomainError
    from layers.interchange.spreadsheet import safe_frame
    from layers.locating.locators import LocatorRegistry
    from layers.register.importer import frame_of, read_table, read_text
    from layers.register.placing import GEOCODE_COLUMNS, Placer, geocode_column, geocode_plain_csv
    from layers.storage.db import session_scope

    started = time.perf_counter()
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            content, frame = None, read_table(path, encoding)
            headers = list(frame.columns)
        else:
            content, frame = read_text(path, encoding), None
            headers = [h.strip() for h in content.split("\n", 1)[0].split(",")]
    except DomainError as exc:
        raise _fail(str(exc)) from None
    if content is not None and '"' in content.split("\n", 1)[0]:  # quoted headers: read it whole
        frame = frame_of(content)
        headers = list(frame.columns)
    name = column or next((h for h in headers if str(h).strip().lower() in ADDRESS_HEADERS), None)
    if name not in headers:
        raise _fail(f"{path.name} has no address column"
                    + (f" {column!r}" if column else f" ({', '.join(ADDRESS_HEADERS)})")
                    + f"; its columns are {', '.join(map(str, headers))}; give --column")
    clash = [c for c in GEOCODE_COLUMNS if c in headers]
    if clash:
        raise _fail(f"{path.name} already has the answer's columns {', '.join(clash)}: rename them")
    engine = _engine()
    try:
        locator = LocatorRegistry(engine).active()
    except DomainError as exc:
        raise _fail(str(exc)) from None
    with session_scope(engine) as session:
        placer = Placer(session, locator, dwellings=True)
    client = None
    if dask is not None:
        from layers.locating.distributed import client_for

        try:
            client = client_for(dask)
        except DomainError as exc:
            raise _fail(str(exc)) from None
    processes = min(os.cpu_count() or 1, 4)
    try:
        with Progress(TextColumn("geocoding distinct addresses"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                      transient=True) as progress:
            task = progress.add_task("geocoding", total=None)

            def advance(n: int) -> None:
                progress.advance(task, n)

            plain = None
            if frame is None:  # a plain CSV: lines out as they came in, answers rendered once
                plain = geocode_plain_csv(placer, content, name, advance, processes, client)
                if plain is None:
                    frame = frame_of(content)
            if plain is None:
                answers = geocode_column(placer, frame[name], advance, processes, client)
    finally:
        if client is not None:
            client.close()
    sink = out.open("w", encoding="utf-8-sig", newline="") if out else sys.stdout
    if plain is not None:
        sink.write(plain[0])
        rows, found, rooms = plain[1:]
    else:
        # the file's own columns as they came; ours (matched addresses, names) safe to open
        pd.concat([frame.reset_index(drop=True), safe_frame(answers)], axis=1).to_csv(
            sink, index=False, lineterminator="\n")
        rows = len(frame)
        found = int((answers["confident"] == True).sum())  # noqa: E712 (an object column)
        rooms = int(answers["dwelling_id"].notna().sum())
    if out:
        sink.close()
        err.print(f"{rows:,} rows geocoded into {out} in {time.perf_counter() - started:.1f} s: "
                  f"{found:,} answered confidently, {rooms:,} to a dwelling of the register, "
                  f"{rows - found:,} not confident or not found (the reason and error columns "
                  "say why)")


# -- cases / routing -----------------------------------------------------------------------------
@cases_app.command("escalate")
def cases_escalate(now: Annotated[str | None, typer.Option(help="ISO time; default now")] = None) -> None:
    """Escalate overdue cases (镇呼区应); the API also does this every minute."""
    from layers.cases.workflow import escalate_overdue
    from layers.storage.db import session_scope

    try:
        moment = dt.datetime.fromisoformat(now) if now else clock.now()
    except ValueError:
        raise _fail(f"{now!r} is not a time: write e.g. 2026-11-27T09:00+08:00") from None
    moment = clock.local(moment)  # a time without a zone is Beijing time
    with session_scope(_engine()) as session:
        changed = escalate_overdue(session, moment)
        numbers = [c.case_no for c in changed]
    console.print(f"{len(numbers)} case(s) escalated" + (f": {', '.join(numbers[:20])}" if numbers else ""))


@cases_app.command("holiday")
def cases_holiday(
    day: str,
    workday: Annotated[bool, typer.Option(help="a make-up working day (调休) instead")] = False,
    name: Annotated[str | None, typer.Option(help="e.g. 春节")] = None,
    remove: Annotated[bool, typer.Option(help="delete the entry")] = False,
) -> None:
    """Edit the working calendar that time limits count in: public holidays and make-up days."""
    from layers.cases.working_calendar import remove_day, set_day
    from layers.storage.db import session_scope

    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise _fail(f"{day!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-10-01") from None
    with session_scope(_engine()) as session:
        if remove:
            remove_day(session, date)
            console.print(f"{date} removed from the calendar")
            return
        set_day(session, date, workday=workday, name=name)
    console.print(f"{date}: {'working day' if workday else 'holiday'}{f' ({name})' if name else ''}")


@cases_app.command("calendar-seed")
def cases_calendar_seed() -> None:
    """Add China's statutory holidays and make-up days (调休) for every year the working calendar
    has no entry in yet (the API does it at start; years you have edited stay as they are)."""
    from layers.cases.working_calendar import last_statutory_year, seed_statutory
    from layers.storage.db import session_scope

    with session_scope(_engine()) as session:
        years = seed_statutory(session)
    console.print(f"statutory calendar added for {', '.join(map(str, years))}" if years else
                  "every year the statutory calendar knows is in the working calendar already")
    console.print(f"known up to {last_statutory_year()}: update the chinesecalendar package "
                  "when the State Council publishes the next year's holidays")


@routing_app.command("export")
def routing_export(path: Path) -> None:
    """Write the categories in force as CSV (edit it, then `gridmap routing import`)."""
    from layers.cases import routing
    from layers.storage.db import session_scope

    with session_scope(_engine()) as session:
        version, categories, _deps = routing.load(session)
        path.write_text(routing.to_csv(categories), encoding="utf-8")
    console.print(f"routing version {version} written to {path}")


@routing_app.command("import")
def routing_import(path: Path, note: Annotated[str | None, typer.Option()] = None) -> None:
    """Validate a categories CSV and make it the routing version in force."""
    from layers.cases import routing
    from layers.storage.db import session_scope

    try:
        with session_scope(_engine()) as session:
            _version, _categories, departments = routing.load(session)
            rows = routing.from_csv(path.read_text(encoding="utf-8-sig"))
            version = routing.save_version(session, rows, departments, by="cli",
                                           note=note or f"import {path.name}")
    except routing.RoutingError as exc:
        for problem in exc.problems:
            err.print(f"[red]•[/] {problem}")
        raise _fail("the routing table was not changed") from None
    console.print(f"routing version {version} is in force ({len(rows)} categories)")


# -- generations ---------------------------------------------------------------------------------
@gen_app.command("list")
def generations_list() -> None:
    """List boundary generations."""
    from layers.boundaries import generations
    from layers.storage.db import session_scope

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
    from layers.boundaries import generations
    from layers.storage.db import session_scope

    day = _date_option(effective_from)
    try:
        with session_scope(_engine()) as session:
            generation = generations.get(session, generation_id)
            generations.publish(session, generation, day)
            status, starts = generation.status.value, generation.effective_from
    except generations.GenerationError as exc:
        raise _fail(str(exc)) from None
    console.print(f"generation {generation_id} is {status}"
                  + (f" from {starts} (the API switches on that day)" if status == "scheduled" else ""))


@gen_app.command("cancel")
def generations_cancel(generation_id: int) -> None:
    """Cancel a scheduled generation (not a plan's: `gridmap plans cancel`) before its day."""
    from layers.boundaries import generations
    from layers.storage.db import session_scope

    try:
        with session_scope(_engine()) as session:
            generations.cancel(session, generations.get(session, generation_id), clock.today())
    except generations.GenerationError as exc:
        raise _fail(str(exc)) from None
    console.print(f"generation {generation_id} is a draft again (not scheduled)")


def _date_option(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{value!r} is not a date: write it as YYYY-MM-DD") from None


# -- plans ---------------------------------------------------------------------------------------
def _plan(session, plan_id: int):
    from layers.access.audit import cli_principal
    from layers.errors import DomainError
    from layers.planning import plans

    try:
        return plans.get(session, plan_id, cli_principal())
    except DomainError as exc:
        raise _fail(str(exc)) from None


@plans_app.command("list")
def plans_list() -> None:
    """Every plan: area, status, who made it, its generation."""
    from layers.access.audit import cli_principal
    from layers.planning import plans
    from layers.storage.db import session_scope

    table = Table("id", "name", "area", "status", "by", "generation")
    with session_scope(_engine()) as session:
        for p in plans.list_plans(session, cli_principal()):
            table.add_row(str(p["id"]), p["name"], p["area"], p["status"], p["created_by"],
                          f"{p['generation']['id']} ({p['generation']['status']})")
    console.print(table)


@plans_app.command("show")
def plans_show(plan_id: int) -> None:
    """A plan's grids with households, residents, buildings and workers."""
    from layers.planning import plans
    from layers.storage.db import session_scope

    table = Table("grid", "name", "households", "residents", "buildings", "workers", "version")
    with session_scope(_engine()) as session:
        detail = plans.detail(session, _plan(session, plan_id))
    for g in detail["grids"]:
        table.add_row(g["code"], g["name"], f"{g['households']:,}", f"{g['residents']:,}",
                      str(g["buildings"]), "、".join(w["name"] or w["code"] for w in g["workers"])
                      or "—", str(g["version"]))
    console.print(f"plan {detail['id']} {detail['name']} ({detail['area']}, {detail['status']})")
    console.print(table)


@plans_app.command("validate")
def plans_validate(plan_id: int) -> None:
    """Errors (blocking publication) and warnings; exit 1 when there are errors."""
    from layers.planning import plans
    from layers.storage.db import session_scope

    with session_scope(_engine()) as session:
        report = plans.validate(session, _plan(session, plan_id), get_settings())
    for p in report["problems"]:
        style = "red" if p["severity"] == "error" else "yellow"
        console.print(f"[{style}]{p['severity']}[/] {p['kind']}: {p['message']}")
    console.print(f"{report['errors']} error(s), {report['warnings']} warning(s)")
    if not report["valid"]:
        raise typer.Exit(1)


@plans_app.command("publish")
def plans_publish(
    plan_id: int,
    effective_from: Annotated[str | None, typer.Option(help="ISO date; default today")] = None,
    reroute_open_cases: Annotated[bool, typer.Option(help="move open cases to their new grid")] = False,
    scheduled: Annotated[list[str] | None, typer.Option(
        help="PLAN=cancel or PLAN=rebase for a scheduled plan sharing communities (repeat)")] = None,
) -> None:
    """Publish a valid plan (now, or scheduled for a future day): the one door for a plan's
    boundaries (validation, scheduled plans, workers, history)."""
    from layers.access.audit import cli_principal
    from layers.errors import DomainError
    from layers.planning import publishing
    from layers.storage.db import session_scope

    decisions = {}
    for item in scheduled or []:
        number, _, decision = item.partition("=")
        if not number.isdigit() or decision not in ("cancel", "rebase"):
            raise _fail(f"--scheduled {item!r}: write PLAN=cancel or PLAN=rebase")
        decisions[int(number)] = decision
    try:
        with session_scope(_engine()) as session:
            answer = publishing.publish(session, _plan(session, plan_id),
                                        effective_from=_date_option(effective_from),
                                        today=clock.today(),
                                        reroute_open_cases=reroute_open_cases,
                                        by=cli_principal(), settings=get_settings(),
                                        scheduled=decisions)
    except DomainError as exc:
        for p in getattr(exc, "extra", {}).get("validation", {}).get("problems", []):
            if p["severity"] == "error":
                err.print(f"  {p['kind']}: {p['message']}")
        for c in getattr(exc, "extra", {}).get("conflicts", []):
            err.print(f"  scheduled {c.get('plan') or c.get('generation')} ({c['name']}, from "
                      f"{c['effective_from']}): {c['communities']}")
        raise _fail(str(exc)) from None
    console.print(f"plan {plan_id} published: generation {answer['generation']['id']} is "
                  f"{answer['generation']['status']} from {answer['generation']['effective_from']}")


@plans_app.command("cancel")
def plans_cancel(plan_id: int) -> None:
    """Cancel a scheduled plan before its day: it goes back to an open draft."""
    from layers.access.audit import cli_principal
    from layers.errors import DomainError
    from layers.planning import schedule
    from layers.storage.db import session_scope

    try:
        with session_scope(_engine()) as session:
            answer = schedule.cancel(session, _plan(session, plan_id), cli_principal(),
                                     today=clock.today())
    except DomainError as exc:
        raise _fail(str(exc)) from None
    console.print(f"plan {plan_id} is open again (was scheduled from "
                  f"{answer['cancelled_effective_from']})")


@plans_app.command("history")
def plans_history(plan_id: int) -> None:
    """Who changed what, when, which grids."""
    from layers.planning import history
    from layers.storage.db import session_scope

    table = Table("entry", "when", "who", "what", "grids")
    with session_scope(_engine()) as session:
        entries = history.listing(session, _plan(session, plan_id))["entries"]
    for e in entries:
        table.add_row(str(e["id"]), e["at"][:16], e["actor"], e["action_zh"],
                      ", ".join(e["grids"][:6]) + (" …" if len(e["grids"]) > 6 else ""))
    console.print(table)


# -- users ---------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option("--role", help="worker|dispatcher|planner|department|admin")],
    scope: Annotated[str | None, typer.Option("--scope", help="area code the user may touch")] = None,
    days: Annotated[int | None, typer.Option(help="days until the token expires; default "
                                                  "GRIDMAP_TOKEN_DAYS, 0: never")] = None,
    worker: Annotated[str | None, typer.Option(
        "--worker", help="a worker's own credential (their code, e.g. W000453): scope = their grid")] = None,
    department: Annotated[str | None, typer.Option(
        "--department", help="the department a department credential speaks for, e.g. 生态环境局")] = None,
) -> None:
    """Create an API user; the token is printed once, as the last word of the output."""
    from layers.access import users
    from layers.storage.db import session_scope

    lifetime = get_settings().token_days if days is None else days
    try:
        with session_scope(_engine()) as session:
            user, token = users.add(session, name, role, scope, days=lifetime, worker=worker,
                                    department=department)
            expires = user.expires_at
            scope = user.scope_code
    except users.UserError as exc:
        raise _fail(str(exc)) from None
    until = f"until {clock.local(expires):%Y-%m-%d}" if expires else "no expiry"
    print(f"created {role} {name} (scope {scope or 'whole district'}, {until}); token: {token}")


@user_app.command("list")
def user_list() -> None:
    """Every credential: role, scope, created, expiry, state (never the token)."""
    from layers.access import users
    from layers.storage.db import session_scope

    now = clock.now()
    table = Table("name", "role", "scope", "created", "expires", "state")
    with session_scope(_engine()) as session:
        for user in users.list_all(session):
            table.add_row(user.name, user.role.value, user.scope_code or "—",
                          f"{clock.local(user.created_at):%Y-%m-%d}",
                          f"{clock.local(user.expires_at):%Y-%m-%d %H:%M}" if user.expires_at else "never",
                          users.status(user, now))
    console.print(table)


def _user_change(name: str, change) -> None:
    from layers.access import users
    from layers.storage.db import session_scope

    try:
        with session_scope(_engine()) as session:
            change(session, name)
    except users.UserError as exc:
        raise _fail(str(exc)) from None


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Stop a credential now (its requests get 401 from the next one on)."""
    from layers.access import users

    _user_change(name, users.disable)
    console.print(f"{name} disabled")


@user_app.command("enable")
def user_enable(name: str) -> None:
    """Let a disabled credential work again."""
    from layers.access import users

    _user_change(name, users.enable)
    console.print(f"{name} enabled")


@user_app.command("rotate")
def user_rotate(
    name: str,
    days: Annotated[int | None, typer.Option(help="days until the new token expires")] = None,
) -> None:
    """Issue a new token; the old one stops working now. The token is the last word printed."""
    from layers.access import users
    from layers.storage.db import session_scope

    lifetime = get_settings().token_days if days is None else days
    try:
        with session_scope(_engine()) as session:
            _user, token = users.rotate(session, name, days=lifetime)
    except users.UserError as exc:
        raise _fail(str(exc)) from None
    print(f"rotated {name}; token: {token}")


@user_app.command("expire")
def user_expire(
    name: str,
    at: Annotated[str | None, typer.Option(help="ISO date or time; default now")] = None,
) -> None:
    """Set when a credential stops working (now, by default)."""
    import datetime as dt

    from layers.access import users

    try:
        when = dt.datetime.fromisoformat(at) if at else clock.now()
    except ValueError:
        raise _fail(f"{at!r} is not a date or time: write e.g. 2026-12-31 or 2026-12-31T18:00") from None
    when = clock.local(when)  # a time without a zone is Beijing time
    _user_change(name, lambda session, n: users.expire(session, n, when))
    console.print(f"{name} expires {when.isoformat()}")


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
    _cipher()  # no register key: a clear message now, not a traceback from every worker
    # access_log=False: the app writes one query-free JSON line per request (api/observability.py);
    # uvicorn's own line carries query strings (a phone number searched for) and would double it.
    # proxy_headers=False: X-Forwarded-For is believed only from GRIDMAP_TRUSTED_PROXIES, by the
    # app (api/security.py); uvicorn would believe it from any loopback peer.
    # timeout_graceful_shutdown: the desk's live streams (Server-Sent Events) stay open; a stop
    # waits 5 s for them, not their whole lifetime (browsers reconnect with Last-Event-ID).
    uvicorn.run("api.main:app", host=host or settings.host, port=port or settings.port,
                workers=workers, log_level="info", access_log=False, proxy_headers=False,
                timeout_graceful_shutdown=5)


# -- register ------------------------------------------------------------------------------------
def _cipher():
    from layers.register.crypto import MissingKey, personal_data

    try:
        return personal_data(get_settings())
    except MissingKey as exc:
        raise _fail(str(exc)) from None


@register_app.command("keygen")
def register_keygen(force: Annotated[bool, typer.Option(
        "--force", help="replace an existing key file (only while no data uses it)")] = False) -> None:
    """Write a new register key to the key file (.gridmap/register.key, owner-only)."""
    from layers.register.crypto import generate_key, write_key_file

    settings = get_settings()
    path = settings.key_file
    if path.exists() and not force:
        console.print(f"{path} exists; keeping it (--force replaces it; to change the key of "
                      "stored data use `gridmap register rotate-key`)")
        return
    if settings.register_key:
        err.print("[yellow]note:[/] GRIDMAP_REGISTER_KEY is set and takes precedence over the file")
    write_key_file(path, generate_key())
    console.print(f"register key written to {path} (mode 0600). Keep a copy somewhere safe: "
                  "without it the encrypted ID and phone numbers cannot be read.")


@register_app.command("rotate-key")
def register_rotate_key() -> None:
    """Re-encrypt all personal data under a new key (one transaction), then replace the key file."""
    from layers.access.audit import cli_principal
    from layers.register import keys
    from layers.register.crypto import PersonalData, _decode, generate_key

    settings = get_settings()
    old = _cipher()
    new_key = generate_key()
    counts = keys.rotate(_engine(), old, PersonalData(_decode(new_key)), settings.key_file, new_key,
                         by=cli_principal())
    console.print(f"re-encrypted {counts or 'nothing'}; the new key is in {settings.key_file} "
                  f"(the old one in {settings.key_file}.old)")
    if settings.register_key:
        err.print("[yellow]GRIDMAP_REGISTER_KEY is set:[/] replace its value with the content of "
                  f"{settings.key_file} before the next start, or the API refuses to start")


@register_app.command("import")
def register_import(
    path: Path,
    kind: Annotated[str, typer.Option("--kind", help="persons | dwellings | organisations")],
    encoding: Annotated[str | None, typer.Option(help="of a CSV file; default: UTF-8, else GBK")] = None,
    report: Annotated[Path | None, typer.Option(help="write the row-level report (CSV) here")] = None,
    accept_partial: Annotated[bool, typer.Option(
        "--accept-partial", help="load the good rows even when some are rejected")] = False,
) -> None:
    """Import a register file (CSV or .xlsx, Chinese headers): checked, placed, atomic, idempotent;
    exit 1 when any row was rejected."""
    from sqlalchemy.exc import OperationalError

    from layers.access.audit import cli_principal, record
    from layers.errors import DomainError
    from layers.locating.locators import LocatorRegistry
    from layers.register import importer
    from layers.storage.db import session_scope

    cipher = _cipher()
    engine = _engine()
    try:
        # read first: a file over the import bounds is refused before the locator is built
        frame = importer.read_table(path, encoding)
        locator = LocatorRegistry(engine).active()
        with session_scope(engine) as session:
            outcome = importer.run(session, locator, cipher, path, kind, encoding=encoding,
                                   accept_partial=accept_partial, frame=frame)
            record(session, cli_principal(), "register.import", target=str(path)[:200], kind=kind,
                   rows=outcome.rows, accepted=outcome.accepted,
                   rejected=outcome.rejected_rows, written=outcome.written)
    except DomainError as exc:
        raise _fail(str(exc)) from None
    except OperationalError:
        # the database went away (a restart, a lost connection): the transaction is gone with it
        raise _fail("the database connection was lost during the import; nothing was written "
                    "(an import is one transaction). Check `gridmap db status`, then run the "
                    "same command again") from None
    if report:
        outcome.write_csv(report)
    for p in outcome.problems[:20]:
        err.print(f"  row {p.row} {p.field}: {p.problem} ({p.zh})")
    if len(outcome.problems) > 20:
        err.print(f"  … {len(outcome.problems) - 20} more" + (f" in {report}" if report else
                                                            " (--report FILE lists them all)"))
    written = ", ".join(f"{k} {v:,}" for k, v in outcome.written.items()) or "nothing written"
    console.print(f"{kind}: {outcome.rows:,} rows, {outcome.accepted:,} accepted, "
                  f"{outcome.rejected_rows:,} rejected; {written}")
    if outcome.problems:
        if not accept_partial:
            err.print("nothing was loaded because rows were rejected; fix them, or give "
                      "--accept-partial to load the accepted rows")
        raise typer.Exit(1)


@register_app.command("regrid")
def register_regrid(
    generation: Annotated[int, typer.Option(help="the redrawn generation (a draft or published)")],
    dask: Annotated[str, typer.Option(help="'local' (or local:N workers) or a Dask scheduler "
                                           "address (tcp://host:8786)")] = "local",
    out: Annotated[Path | None, typer.Option(help="the buildings that change grid, as CSV")] = None,
) -> None:
    """What a redraw does to the register: every building (and its households and residents)
    whose grid would change, re-gridded on Dask with dask-geopandas."""
    import time

    from layers.errors import DomainError
    from layers.interchange.spreadsheet import safe_frame
    from layers.locating import distributed

    started = time.perf_counter()
    try:
        client = distributed.client_for(dask)
    except DomainError as exc:
        raise _fail(str(exc)) from None
    try:
        moved = distributed.register_moves(_engine(), generation, client)
    except DomainError as exc:
        raise _fail(str(exc)) from None
    finally:
        client.close()
    if out:
        safe_frame(moved).to_csv(out, index=False, encoding="utf-8-sig")
    households, population = int(moved["households"].sum()), int(moved["population"].sum())
    console.print(f"{len(moved):,} buildings change grid ({households:,} households, "
                  f"{population:,} residents) in {time.perf_counter() - started:.1f} s"
                  + (f"; listed in {out}" if out else ""))


@register_app.command("export")
def register_export(
    path: Path,
    personal_data: Annotated[bool, typer.Option(
        "--personal-data", help="ID and phone numbers in clear (audited); default: masked")] = False,
    area: Annotated[str | None, typer.Option(help="only this area (code prefix)")] = None,
) -> None:
    """Export the persons as CSV with the register's Chinese headers (audited)."""
    from layers.access.audit import cli_principal
    from layers.register.keys import export_persons

    n = export_persons(_engine(), _cipher(), path, by=cli_principal(), personal=personal_data,
                       scope=area)
    console.print(f"{n:,} persons written to {path}" + (
        " with ID and phone numbers in clear (audited)" if personal_data else " (masked)"))


@app.command()
def up(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Everything a newcomer needs: database up, schema, the demo district (once), then serve."""
    db_up()
    db_upgrade()
    settings = get_settings()
    if not settings.register_key and not settings.key_file.exists():
        register_keygen()  # a newcomer's first start: a fresh key, owner-only, outside git
    if _active_grid_count() == 0 or not _has_register():
        demo_load(scale=1.0, seed=370811)
    else:
        console.print("district data present; not reloading the demo (run `gridmap demo load` to)")
    console.print(f"serving on http://{host or get_settings().host}:{port or get_settings().port}")
    serve(host=host, port=port)


def _has_register() -> bool:
    from sqlalchemy import text

    with _engine().connect() as conn:
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM persons)")).scalar())


def _active_grid_count() -> int:
    from layers.boundaries.areas import active_grid_count
    from layers.storage.db import session_scope

    with session_scope(_engine()) as session:
        return active_grid_count(session)


@app.command()
def bench(
    only: Annotated[list[str] | None, typer.Option(help="run only these benchmarks")] = None,
) -> None:
    """Run the benchmarks in bench/ and print a table with the machine description."""
    from bench.runner import main as bench_main

    raise typer.Exit(bench_main(only or []))


