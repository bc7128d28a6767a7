"""Running gridmap: ``gridmap serve`` (the API), ``gridmap up`` (everything a newcomer
needs, then serve) and ``gridmap bench``."""

from __future__ import annotations

from typing import Annotated

import typer

from gridmap.cli.base import Commands, cipher, console, engine
from gridmap.settings import get_settings

app = Commands()  # commands of the top level, added to the main app


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default GRIDMAP_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default GRIDMAP_PORT or 8000")] = None,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Serve the API (docs at /docs, liveness at /healthz)."""
    import uvicorn

    settings = get_settings()
    cipher()  # no register key: a clear message now, not a traceback from every worker
    # access_log=False: the app writes one query-free JSON line per request (api/observability.py);
    # uvicorn's own line carries query strings (a phone number searched for) and would double it.
    # proxy_headers=False: X-Forwarded-For is believed only from GRIDMAP_TRUSTED_PROXIES, by the
    # app (api/security.py); uvicorn would believe it from any loopback peer.
    # timeout_graceful_shutdown: the desk's live streams (Server-Sent Events) stay open; a stop
    # waits 5 s for them, not their whole lifetime (browsers reconnect with Last-Event-ID).
    uvicorn.run("api.main:app", host=host or settings.host, port=port or settings.port,
                workers=workers, log_level="info", access_log=False, proxy_headers=False,
                timeout_graceful_shutdown=5)


@app.command()
def up(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Everything a newcomer needs: database up, schema, the demo district (once), then serve."""
    from gridmap.cli.data import demo_load
    from gridmap.cli.db import db_up, db_upgrade
    from gridmap.cli.register import register_keygen

    db_up()
    db_upgrade()
    settings = get_settings()
    if not settings.register_key and not settings.key_file.exists():
        register_keygen()  # a newcomer's first start: a fresh key, owner-only, outside git
    if not _district_present():
        demo_load(scale=1.0, seed=370811)
    else:
        console.print("district data present; not reloading the demo (run `gridmap demo load` to)")
    console.print(f"serving on http://{host or get_settings().host}:{port or get_settings().port}")
    serve(host=host, port=port)


def _district_present() -> bool:
    """Grids in force and a register: the demo (or real data) is loaded."""
    from layers.boundaries.areas import active_grid_count
    from layers.register.people import has_register
    from layers.storage.db import session_scope

    with session_scope(engine()) as session:
        return active_grid_count(session) > 0 and has_register(session)


@app.command()
def bench(
    only: Annotated[list[str] | None, typer.Option(help="run only these benchmarks")] = None,
) -> None:
    """Run the benchmarks in bench/ and print a table with the machine description."""
    from bench.runner import main as bench_main

    raise typer.Exit(bench_main(only or []))
