"""Cases from the command line: escalation, the working calendar (``gridmap cases …``) and
the routing tables (``gridmap routing export/import``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.base import Commands, console, engine, err, fail
from layers import clock

cases_app = Commands(help='Cases.', no_args_is_help=True)
routing_app = Commands(help='Routing tables (categories, departments).', no_args_is_help=True)


@cases_app.command("escalate")
def cases_escalate(now: Annotated[str | None, typer.Option(help="ISO time; default now")] = None) -> None:
    """Escalate overdue cases (镇呼区应); the API also does this every minute."""
    from layers.cases.workflow import escalate_overdue
    from layers.storage.db import session_scope

    try:
        moment = dt.datetime.fromisoformat(now) if now else clock.now()
    except ValueError:
        raise fail(f"{now!r} is not a time: write e.g. 2026-11-27T09:00+08:00") from None
    moment = clock.local(moment)  # a time without a zone is Beijing time
    with session_scope(engine()) as session:
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
        raise fail(f"{day!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-10-01") from None
    with session_scope(engine()) as session:
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

    with session_scope(engine()) as session:
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

    with session_scope(engine()) as session:
        version, categories, _deps = routing.load(session)
        path.write_text(routing.to_csv(categories), encoding="utf-8")
    console.print(f"routing version {version} written to {path}")


@routing_app.command("import")
def routing_import(path: Path, note: Annotated[str | None, typer.Option()] = None) -> None:
    """Validate a categories CSV and make it the routing version in force."""
    from layers.cases import routing
    from layers.storage.db import session_scope

    try:
        with session_scope(engine()) as session:
            _version, _categories, departments = routing.load(session)
            rows = routing.from_csv(path.read_text(encoding="utf-8-sig"))
            version = routing.save_version(session, rows, departments, by="cli",
                                           note=note or f"import {path.name}")
    except routing.RoutingError as exc:
        for problem in exc.problems:
            err.print(f"[red]•[/] {problem}")
        raise fail("the routing table was not changed") from None
    console.print(f"routing version {version} is in force ({len(rows)} categories)")
