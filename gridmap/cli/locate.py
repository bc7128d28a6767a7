"""Files of points and addresses: ``gridmap locate`` (CSV on the columnar path, optionally
on Dask; JSON, GeoJSON, NDJSON) and ``gridmap geocode`` (a register's addresses to buildings,
dwellings and grids)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.base import Commands, engine, err, fail
from gridmap.settings import get_settings

app = Commands()  # commands of the top level, added to the main app


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
            raise fail("--dask locates CSV files; convert the file or leave --dask out")
        return _locate_csv_on_dask(path, crs, out, at, dask)
    if content_type == "text/csv":
        return _locate_csv(path, crs, out, at)
    import sys

    from rich.progress import Progress

    from layers.locating.batch import locate_rows, parse_batch, render_batch
    from layers.locating.locators import LocatorRegistry

    try:
        fmt, rows = parse_batch(path.read_bytes(), content_type)
        locator = LocatorRegistry(engine()).on(dt.date.fromisoformat(at) if at else None)
    except OSError as exc:
        raise fail(str(exc)) from None
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

        return for_points(engine(), dt.date.fromisoformat(at) if at else None)

    return build() if at else points_locator(database_url(), get_settings().home / "cache", build)


def _locate_csv(path: Path, crs: str, out: Path | None, at: str | None) -> None:
    """CSV takes the columnar path: streamed in chunks, located and written as arrays; the
    active generation's locator comes from its on-disk snapshot when it is still current
    (layers/locating/snapshot.py), and a writer thread writes while the next chunk is located."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from layers.locating.bulk import locate_csv

    with ThreadPoolExecutor(1) as starter:
        numba_ready = starter.submit(_start_numba_without_blas)  # while the database answers
        try:
            locator = _points_locator(at)
            source = path.open("rb")  # UTF-8 checked block by block (bulk._utf8)
        except (OSError, ValueError) as exc:
            raise fail(str(exc)) from None
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
        except UnicodeDecodeError:  # before ValueError, of which it is a kind
            raise fail(f"{path} is not UTF-8 text; save it as UTF-8 (CSV UTF-8 in Excel)") from None
        except ValueError as exc:
            raise fail(str(exc)) from None
    if out:
        sink.close()
        err.print(f"{rows:,} rows located into {out} ({total / 2**20:,.0f} MiB read)")


def _locate_csv_on_dask(path: Path, crs: str, out: Path | None, at: str | None,
                        address: str) -> None:
    """The CSV located block by block on a Dask cluster (layers/locating/distributed.py): the
    same bytes out as without --dask, in the same order."""
    import sys
    import time

    from layers.locating import distributed

    if not path.exists():
        raise fail(f"no such file: {path}")
    started = time.perf_counter()
    try:
        locator = _points_locator(at)
        client = distributed.client_for(address)
    except ValueError as exc:
        raise fail(str(exc)) from None
    sink = out.open("wb") if out else sys.stdout.buffer
    try:
        workers = len(client.scheduler_info()["workers"])
        for chunk in distributed.locate_csv(client, str(path.resolve()), locator, crs):
            sink.write(chunk)
    except ValueError as exc:
        raise fail(str(exc)) from None
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
    import gc
    import os
    import sys
    import time

    import pandas as pd
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from layers.interchange.spreadsheet import safe_frame
    from layers.locating.locators import LocatorRegistry
    from layers.register.importer import frame_of, read_table, read_text
    from layers.register.placing import GEOCODE_COLUMNS, Placer, geocode_column, geocode_plain_csv
    from layers.storage.db import session_scope

    started = time.perf_counter()
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        content, frame = None, read_table(path, encoding)
        headers = list(frame.columns)
    else:
        content, frame = read_text(path, encoding), None
        headers = [h.strip() for h in content.split("\n", 1)[0].split(",")]
    if content is not None and '"' in content.split("\n", 1)[0]:  # quoted headers: read it whole
        frame = frame_of(content)
        headers = list(frame.columns)
    name = column or next((h for h in headers if str(h).strip().lower() in ADDRESS_HEADERS), None)
    if name not in headers:
        raise fail(f"{path.name} has no address column"
                    + (f" {column!r}" if column else f" ({', '.join(ADDRESS_HEADERS)})")
                    + f"; its columns are {', '.join(map(str, headers))}; give --column")
    clash = [c for c in GEOCODE_COLUMNS if c in headers]
    if clash:
        raise fail(f"{path.name} already has the answer's columns {', '.join(clash)}: rename them")
    db = engine()
    locator = LocatorRegistry(db).active()
    with session_scope(db) as session:
        placer = Placer(session, locator, dwellings=True)
    # what the build leaves (a million objects) set aside from the cyclic collector, as a
    # server does after every build (settle_heap): never walked while the file is read, nor by
    # the forked workers, nor collected object by object when the command ends (0.5 s)
    gc.freeze()
    client = None
    if dask is not None:
        from layers.locating.distributed import client_for

        client = client_for(dask)
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
