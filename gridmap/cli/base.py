"""What every command group shares: the two consoles, the database engine, the typed option
parsers and the one error boundary.

The boundary (:class:`Commands`) wraps every command: a refusal of the domain — a
``DomainError``, an unreachable database, a local cluster that cannot start — is printed as
``error: <what to fix>`` and the command exits 1; the message is the API's (``api/errors.py:
describe``, the one error table), so a refusal reads the same at the terminal and over HTTP.
Anything else is a bug and keeps its traceback. Commands therefore do not catch domain errors
themselves, unless they add something to the message (a report, the rows that failed)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

console = Console(soft_wrap=True)  # never break paths or URLs across lines
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """The command's own refusal (bad options): printed like the domain's, exit 1."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(1)


def refusal(exc: Exception) -> str | None:
    """The message of an exception the error table knows (the user can act on it), or None for
    a bug. The table is imported here, late, so ``gridmap --help`` does not load it."""
    from api.errors import describe

    described = describe(exc)
    return None if described is None else described.body["error"]


def _schema_behind(exc: Exception) -> str | None:
    from layers.storage.migrate import schema_behind

    return schema_behind(exc)


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """The one error boundary around a command (see the module's docstring)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            message = refusal(exc) or _schema_behind(exc)
            if message is None:
                raise
            raise fail(message) from None

    return run


class Commands(typer.Typer):
    """A command group whose every command runs inside the error boundary."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            register(guarded(func))
            return func  # called directly (``gridmap up`` runs others), it raises as it is

        return decorator


def engine():
    """The engine of the database gridmap uses (GRIDMAP_DATABASE_URL, else the local cluster)."""
    from layers.storage.db import database_url, engine_for

    return engine_for(database_url())


def cipher():
    """The register's key (a missing one is refused, saying how to make it)."""
    from gridmap.settings import get_settings
    from layers.register.crypto import personal_data

    return personal_data(get_settings())


def parse_date(value: str | None, example: str = "") -> dt.date | None:
    """An ISO date option (None when not given); a wrong one is refused with how to write it."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{value!r} is not a date: write it as YYYY-MM-DD{example}") from None
