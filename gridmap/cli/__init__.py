"""``gridmap`` — the single command-line entry point (``gridmap.cli:app``), one module per
command group: ``db`` (cluster, replica, migrations), ``data`` (boundary, areas, demo, import,
export), ``locate`` (locate, geocode), ``cases`` (cases, routing), ``plans`` (generations,
plans), ``users``, ``register``, ``addresses`` and ``serve`` (serve, up, bench). Each command
parses its options, calls the domain in layers/ and prints; every command runs inside the one
error boundary of ``base.py``. Imports sit inside the commands, so ``gridmap --help`` starts fast.
"""

from __future__ import annotations

from gridmap.cli import addresses, cases, data, db, locate, plans, register, serve, users
from gridmap.cli.base import Commands

app = Commands(help="gridmap: 网格化服务管理空间底座", no_args_is_help=True,
               pretty_exceptions_show_locals=False)
for group, name in ((db.db_app, "db"), (plans.gen_app, "generations"), (users.user_app, "user"),
                    (data.areas_app, "areas"), (data.boundary_app, "boundary"),
                    (data.demo_app, "demo"), (plans.plans_app, "plans"),
                    (cases.cases_app, "cases"), (cases.routing_app, "routing"),
                    (register.register_app, "register"), (addresses.addresses_app, "addresses")):
    app.add_typer(group, name=name)
db.db_app.add_typer(db.replica_app, name="replica")
# the top-level commands (import, export, locate, geocode, serve, up, bench), in that order
for module in (data, locate, serve):
    app.registered_commands.extend(module.app.registered_commands)

__all__ = ["app"]
