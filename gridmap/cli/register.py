"""The register (实有人口·实有房屋·实有单位) from the command line: its key (``keygen``,
``rotate-key``), imports of offices' files, re-gridding after a redraw and audited exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.base import Commands, cipher, console, engine, err
from gridmap.settings import get_settings

register_app = Commands(help='The register (实有人口·实有房屋·实有单位) and its key.', no_args_is_help=True)


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
    old = cipher()
    new_key = generate_key()
    counts = keys.rotate(engine(), old, PersonalData(_decode(new_key)), settings.key_file, new_key,
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
    from layers.access.audit import cli_principal
    from layers.register import importer

    outcome = importer.import_file(engine(), cipher(), path, kind, by=cli_principal(),
                                   encoding=encoding, accept_partial=accept_partial)
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

    from layers.interchange.spreadsheet import safe_frame
    from layers.locating import distributed

    started = time.perf_counter()
    client = distributed.client_for(dask)
    try:
        moved = distributed.register_moves(engine(), generation, client)
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

    n = export_persons(engine(), cipher(), path, by=cli_principal(), personal=personal_data,
                       scope=area)
    console.print(f"{n:,} persons written to {path}" + (
        " with ID and phone numbers in clear (audited)" if personal_data else " (masked)"))
