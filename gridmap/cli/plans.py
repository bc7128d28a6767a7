"""Boundary generations (``gridmap generations list/publish/cancel``) and the planners'
drafts (``gridmap plans list/show/validate/publish/cancel/history``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli.base import Commands, console, engine, err, fail, parse_date
from gridmap.settings import get_settings
from layers import clock

gen_app = Commands(help='Boundary generations.', no_args_is_help=True)
plans_app = Commands(help='Planning: drafts of the grid boundaries.', no_args_is_help=True)


@gen_app.command("list")
def generations_list() -> None:
    """List boundary generations."""
    from layers.boundaries import generations
    from layers.storage.db import session_scope

    table = Table("id", "name", "status", "effective from", "effective to")
    with session_scope(engine()) as session:
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

    day = parse_date(effective_from)
    with session_scope(engine()) as session:
        generation = generations.get(session, generation_id)
        generations.publish(session, generation, day)
        status, starts = generation.status.value, generation.effective_from
    console.print(f"generation {generation_id} is {status}"
                  + (f" from {starts} (the API switches on that day)" if status == "scheduled" else ""))


@gen_app.command("cancel")
def generations_cancel(generation_id: int) -> None:
    """Cancel a scheduled generation (not a plan's: `gridmap plans cancel`) before its day."""
    from layers.boundaries import generations
    from layers.storage.db import session_scope

    with session_scope(engine()) as session:
        generations.cancel(session, generations.get(session, generation_id), clock.today())
    console.print(f"generation {generation_id} is a draft again (not scheduled)")


def _plan(session, plan_id: int):
    from layers.access.audit import cli_principal
    from layers.planning import plans

    return plans.get(session, plan_id, cli_principal())


@plans_app.command("list")
def plans_list() -> None:
    """Every plan: area, status, who made it, its generation."""
    from layers.access.audit import cli_principal
    from layers.planning import plans
    from layers.storage.db import session_scope

    table = Table("id", "name", "area", "status", "by", "generation")
    with session_scope(engine()) as session:
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
    with session_scope(engine()) as session:
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

    with session_scope(engine()) as session:
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
            raise fail(f"--scheduled {item!r}: write PLAN=cancel or PLAN=rebase")
        decisions[int(number)] = decision
    try:
        with session_scope(engine()) as session:
            answer = publishing.publish(session, _plan(session, plan_id),
                                        effective_from=parse_date(effective_from),
                                        today=clock.today(),
                                        reroute_open_cases=reroute_open_cases,
                                        by=cli_principal(), settings=get_settings(),
                                        scheduled=decisions)
    except DomainError as exc:  # what failed, row by row, before the refusal
        for p in getattr(exc, "extra", {}).get("validation", {}).get("problems", []):
            if p["severity"] == "error":
                err.print(f"  {p['kind']}: {p['message']}")
        for c in getattr(exc, "extra", {}).get("conflicts", []):
            err.print(f"  scheduled {c.get('plan') or c.get('generation')} ({c['name']}, from "
                      f"{c['effective_from']}): {c['communities']}")
        raise  # the boundary prints the refusal itself, after the rows that explain it
    console.print(f"plan {plan_id} published: generation {answer['generation']['id']} is "
                  f"{answer['generation']['status']} from {answer['generation']['effective_from']}")


@plans_app.command("cancel")
def plans_cancel(plan_id: int) -> None:
    """Cancel a scheduled plan before its day: it goes back to an open draft."""
    from layers.access.audit import cli_principal
    from layers.planning import schedule
    from layers.storage.db import session_scope

    with session_scope(engine()) as session:
        answer = schedule.cancel(session, _plan(session, plan_id), cli_principal(),
                                 today=clock.today())
    console.print(f"plan {plan_id} is open again (was scheduled from "
                  f"{answer['cancelled_effective_from']})")


@plans_app.command("history")
def plans_history(plan_id: int) -> None:
    """Who changed what, when, which grids."""
    from layers.planning import history
    from layers.storage.db import session_scope

    table = Table("entry", "when", "who", "what", "grids")
    with session_scope(engine()) as session:
        entries = history.listing(session, _plan(session, plan_id))["entries"]
    for e in entries:
        table.add_row(str(e["id"]), e["at"][:16], e["actor"], e["action_zh"],
                      ", ".join(e["grids"][:6]) + (" …" if len(e["grids"]) > 6 else ""))
    console.print(table)
