"""Data in and out: the district boundary (``gridmap boundary load``), an area's facts
(``gridmap areas show``), the demo city (``gridmap demo load``), and ``gridmap import`` /
``gridmap export`` of the interchange format with their validation report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli.base import Commands, cipher, console, engine, fail
from gridmap.settings import get_settings

boundary_app = Commands(help='The district boundary in data/boundaries.', no_args_is_help=True)
areas_app = Commands(help='Areas of the hierarchy.', no_args_is_help=True)
demo_app = Commands(help='The demo city: Rencheng, or the whole of Jining.', no_args_is_help=True)
app = Commands()  # its top-level commands (import, export), added to the main app


@boundary_app.command("load")
def boundary_load() -> None:
    """Load the district boundary (data/boundaries/<code>.geojson) into the active generation."""
    from layers.boundaries.areas import load_district_boundary
    from layers.storage.db import session_scope

    settings = get_settings()
    path = settings.boundaries_dir / f"{settings.district_code}.geojson"
    if not path.exists():
        raise fail(f"{path} not found: set GRIDMAP_DISTRICT_CODE or add the boundary file")
    with session_scope(engine()) as session:
        generation, changed = load_district_boundary(session, path)
        gen_id = generation.id
    console.print(f"district {settings.district_code} {'loaded' if changed else 'unchanged'} "
                  f"in generation {gen_id}")


@areas_app.command("show")
def areas_show(code: str, at: Annotated[str | None, typer.Option(help="ISO date")] = None) -> None:
    """Show an area and its area in km² (computed on the ellipsoid, in metres)."""
    from layers.boundaries import areas, generations
    from layers.storage.db import session_scope

    with session_scope(engine()) as session:
        gen = (generations.in_force_on(session, dt.date.fromisoformat(at)) if at
               else generations.active(session))
        if gen is None:
            raise fail("no boundaries in force; run `gridmap boundary load` or `gridmap demo load`")
        info = areas.info(session, code, gen)
    console.print(f"{info.code} {info.name} ({info.level}), generation {info.generation_id}: "
                  f"{info.area_km2:.2f} km², {info.children} children")


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
    settings = get_settings()
    key = cipher()  # the register's personal data is encrypted as it loads
    path = settings.boundaries_dir / f"{boundary}.geojson"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in settings.boundaries_dir.glob("*.geojson")))
        raise fail(f"no boundary {boundary}: {path} does not exist (known: {known})")
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating the demo city", total=3)
        try:
            dataset = counties.generate_city(path, scale=scale, seed=seed)
        except ValueError as exc:  # bad input, or a scale the generator cannot lay out yet
            raise fail(f"cannot generate the demo city at scale {scale}: {exc}; scales from "
                        "0.05 to 8 are accepted (8× Rencheng is about Jining's size)") from None
        progress.update(task, advance=1, description="validating and writing to PostGIS")
        name = f"演示城市 demo (scale {scale})" if boundary == RENCHENG.code else \
            f"演示城市 demo {boundary} (scale {scale})"
        outcome = write_validated(engine(), dataset, draft_name=name)
        progress.update(task, advance=1,
                        description="case history and register, side by side (first load only)")
        from layers.storage.db import database_url

        # as many cases per resident as Rencheng's history; the register of one county
        n_cases, register = load_extras(
            database_url(), key, scale=scale, seed=seed, flag_m=settings.visit_distance_m,
            cases_scale=scale * counties.residents(path) / RENCHENG.population,
            register_area=counties.registered_county(path)) if outcome.ok else (0, {})
        progress.update(task, advance=1)
    _print_outcome(outcome, None)
    if not outcome.ok:
        raise fail("the demo city failed validation (a bug: please report it)")
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
    from layers.interchange.importer import import_path

    outcome = import_path(engine(), path, from_crs=from_crs, encoding=encoding,
                          swap_xy=swap_xy, make_valid=make_valid, tolerance_m=tolerance,
                          dry_run=dry_run)
    _print_outcome(outcome, report)
    if not outcome.ok:
        raise fail(f"{len(outcome.report.errors)} problem(s); nothing was written")
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
    from layers.interchange.formats import field_names, target_path
    from layers.interchange.importer import export_path

    fmt = format or ("gpkg" if path.suffix.lower() == ".gpkg" else "geojson")
    try:
        written = export_path(engine(), path, fmt, generation, personal_data=personal_data)
    except ValueError as exc:
        raise fail(str(exc)) from None
    target = target_path(path, fmt)
    what = "one GeoPackage" if fmt == "gpkg" else f"{len(written)} file(s) in the folder"
    console.print(f"wrote {what} {target}; workers' phone numbers "
                  + ("in full (personal data, audited)" if personal_data else
                     "masked (--personal-data for the full numbers)"))
    if fmt == "shp":  # Shapefile field names are at most 10 characters
        for layer, names in field_names(target).items():
            pairs = ", ".join(f"{short} = {full}" for short, full in names.items())
            console.print(f"{layer}.shp field names: {pairs} (also in {layer}.fields.json)")
