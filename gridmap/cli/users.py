"""API credentials (``gridmap user add/list/disable/enable/rotate/expire``): the token is
printed once, never listed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from gridmap.cli.base import Commands, console, engine, fail
from gridmap.settings import get_settings
from layers import clock

user_app = Commands(help='API credentials.', no_args_is_help=True)


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
    with session_scope(engine()) as session:
        user, token = users.add(session, name, role, scope, days=lifetime, worker=worker,
                                department=department)
        expires = user.expires_at
        scope = user.scope_code
    until = f"until {clock.local(expires):%Y-%m-%d}" if expires else "no expiry"
    print(f"created {role} {name} (scope {scope or 'whole district'}, {until}); token: {token}")


@user_app.command("list")
def user_list() -> None:
    """Every credential: role, scope, created, expiry, state (never the token)."""
    from layers.access import users
    from layers.storage.db import session_scope

    now = clock.now()
    table = Table("name", "role", "scope", "created", "expires", "state")
    with session_scope(engine()) as session:
        for user in users.list_all(session):
            table.add_row(user.name, user.role.value, user.scope_code or "—",
                          f"{clock.local(user.created_at):%Y-%m-%d}",
                          f"{clock.local(user.expires_at):%Y-%m-%d %H:%M}" if user.expires_at else "never",
                          users.status(user, now))
    console.print(table)


def _user_change(name: str, change) -> None:
    from layers.storage.db import session_scope

    with session_scope(engine()) as session:
        change(session, name)


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
    with session_scope(engine()) as session:
        _user, token = users.rotate(session, name, days=lifetime)
    print(f"rotated {name}; token: {token}")


@user_app.command("expire")
def user_expire(
    name: str,
    at: Annotated[str | None, typer.Option(help="ISO date or time; default now")] = None,
) -> None:
    """Set when a credential stops working (now, by default)."""

    from layers.access import users

    try:
        when = dt.datetime.fromisoformat(at) if at else clock.now()
    except ValueError:
        raise fail(f"{at!r} is not a date or time: write e.g. 2026-12-31 or 2026-12-31T18:00") from None
    when = clock.local(when)  # a time without a zone is Beijing time
    _user_change(name, lambda session, n: users.expire(session, n, when))
    console.print(f"{name} expires {when.isoformat()}")
