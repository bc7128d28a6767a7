"""``gridmap addresses`` — the standard-address gazetteer from the command line: list, show, add,
change, other names, remove. Each change is audited as the operating-system user (with the
admin's rights, as every command is) and makes the API processes rebuild their gazetteer. A whole
gazetteer is imported with ``gridmap import`` (the ``addresses`` layer)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli.base import Commands, console, engine

addresses_app = Commands(help="The standard-address gazetteer (标准地址): parts and other names.",
                         no_args_is_help=True)

Kind = Annotated[str | None, typer.Option(help="building | compound | place")]
Text = Annotated[str | None, typer.Option()]


def _run(work):
    """``work(session, principal)`` in one transaction (a refusal rolls it back: nothing
    written, the boundary prints why)."""
    from layers.access.audit import cli_principal
    from layers.storage.db import session_scope

    with session_scope(engine()) as session:
        return work(session, cli_principal())


def _show(row: dict) -> None:
    table = Table("field", "value", show_header=False)
    for key, value in row.items():
        if value not in (None, "", []):
            table.add_row(key, "；".join(value) if isinstance(value, list) else str(value))
    console.print(table)


@addresses_app.command("list")
def addresses_list(
    q: Annotated[str | None, typer.Argument(help="part of an address, a name or another name")] = None,
    kind: Kind = None,
    limit: Annotated[int, typer.Option(min=1, max=5000)] = 50,
) -> None:
    """Standard addresses whose address, name or other names contain Q."""
    from layers.addresses import edits

    rows = _run(lambda session, _by: edits.search(session, q, kind, limit, None))
    table = Table("code", "kind", "address", "name", "other names", "grid")
    for r in rows:
        table.add_row(r["code"], r["kind"], r["address"] or "", r["name"] or "",
                      "；".join(r["aliases"]), r["grid_code"] or "—")
    console.print(table)


@addresses_app.command("show")
def addresses_show(code: str) -> None:
    """One standard address: its parts, other names, point and grid."""
    from layers.addresses import edits

    _show(_run(lambda session, _by: edits.get(session, code)))


def _data(**given):
    from layers.addresses.edits import AddressData

    aliases = given.pop("alias", None)
    return AddressData(**{k: v for k, v in given.items() if v is not None},
                       aliases=list(aliases) if aliases else None)


@addresses_app.command("add")
def addresses_add(
    kind: Annotated[str, typer.Option(help="building | compound | place")],
    code: Text = None, address: Text = None, name: Text = None, street: Text = None,
    community: Text = None, road: Text = None,
    door_plate: Annotated[str | None, typer.Option(help="门牌号: 12 or 12-3")] = None,
    compound: Text = None, building: Text = None,
    building_code: Annotated[str | None, typer.Option(help="the building (kind building)")] = None,
    place_kind: Annotated[str | None, typer.Option(help="school, market, gate, bus_stop …")] = None,
    alias: Annotated[list[str] | None, typer.Option(help="another name (repeat for several)")] = None,
    lon: Annotated[float | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option()] = None,
    crs: Annotated[str, typer.Option(help="wgs84 | gcj02 | bd09 | EPSG:n")] = "wgs84",
) -> None:
    """Add a standard address (a building's needs --building-code; its point defaults to it)."""
    from layers.addresses import edits

    data = _data(kind=kind, address=address, name=name, street=street, community=community,
                 road=road, door_plate=door_plate, compound=compound, building=building,
                 building_code=building_code, place_kind=place_kind, alias=alias, lon=lon,
                 lat=lat, crs=crs)
    row = _run(lambda session, by: edits.create(session, by, code, data))
    console.print(f"added {row['code']}")
    _show(row)


@addresses_app.command("set")
def addresses_set(
    code: str,
    address: Text = None, name: Text = None, street: Text = None, community: Text = None,
    road: Text = None, door_plate: Text = None, compound: Text = None, building: Text = None,
    building_code: Text = None, place_kind: Text = None,
    lon: Annotated[float | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option()] = None,
    crs: Annotated[str, typer.Option()] = "wgs84",
) -> None:
    """Change parts of a standard address (an empty value clears a part)."""
    from layers.addresses import edits

    data = _data(address=address, name=name, street=street, community=community, road=road,
                 door_plate=door_plate, compound=compound, building=building,
                 building_code=building_code, place_kind=place_kind, lon=lon, lat=lat, crs=crs)
    _show(_run(lambda session, by: edits.update(session, by, code, data)))


@addresses_app.command("alias")
def addresses_alias(
    code: str,
    alias: Annotated[str, typer.Argument(help="the other name (an older name, a common one)")],
    remove: Annotated[bool, typer.Option(help="remove this other name instead")] = False,
) -> None:
    """Add (or --remove) one other name of a compound or a place."""
    from layers.addresses import edits

    def change(session, by):
        names = edits.get(session, code)["aliases"]
        names = [n for n in names if n != alias] if remove else [*names, alias]
        return edits.update(session, by, code, edits.AddressData(aliases=names))

    _show(_run(change))


@addresses_app.command("remove")
def addresses_remove(code: str) -> None:
    """Remove a standard address (the building or place itself stays)."""
    from layers.addresses import edits

    _run(lambda session, by: edits.delete(session, by, code))
    console.print(f"removed {code}")
