"""The house rules, enforced: imports point down only (api → map_ui → layers → gis, with
gridmap.settings a shared leaf), each floor keeps out what does not belong to it, routers are thin,
and modules stay readable. Every rule has a test that shows it catching a violation, so the suite
would notice if a rule stopped working."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"gis", "layers", "map_ui", "api", "gridmap", "bench"}
# What each package may import from our own packages.
ALLOWED = {
    "gis": {"gis"},
    "layers": {"layers", "gis", "gridmap.settings"},
    "map_ui": {"map_ui", "layers", "gis", "gridmap.settings"},
    "api": {"api", "map_ui", "layers", "gis", "gridmap.settings"},
    # The CLI and the benchmarks call the domain; of the API only the app factory (to serve).
    # The CLI reuses the API's error table (api/errors.py) for its one error boundary.
    "gridmap": {"gridmap", "layers", "gis", "bench", "api.app", "api.main", "api.errors"},
    "bench": {"bench", "layers", "gis", "gridmap", "api.app", "api.main"},
}
# Third-party packages a floor may not use.
FORBIDDEN_THIRD_PARTY = {
    "gis": {"sqlalchemy", "geoalchemy2", "psycopg", "psycopg_pool", "alembic", "fastapi",
            "starlette"},
    "layers": {"fastapi", "starlette", "uvicorn"},
    "map_ui": {"fastapi", "starlette"},
    # No SQL in the CLI: its orchestration and queries live in the layers that own the tables.
    "gridmap": {"sqlalchemy", "psycopg", "geoalchemy2", "alembic"},
}
# Query builders that mean SQL is being written: they belong in layers/, never in api/.
SQL_BUILDERS = {"text", "select", "insert", "update", "delete", "func", "literal_column"}
# What names the database session in a route's signature (the dependency, its aliases, the type).
SESSION_NAMES = re.compile(r"\b(SessionDep|ReadSessionDep|Session|get_session|get_read_session)\b")
LONG_MODULE_LINES = 500
LONG_MODULE_REASON = "Why this module is long:"
# No module past this, whatever it says: split it along its concerns. Generated migrations and
# the demo generator (one table of invented data read top to bottom) are the exceptions.
MAX_MODULE_LINES = 600
MAX_LINES_EXEMPT = ("layers/storage/migrations/", "layers/demo/city.py")


@dataclass(frozen=True)
class Source:
    path: str  # relative to the repository, e.g. "api/routers/cases.py"
    text: str

    @property
    def module(self) -> str:
        parts = list(Path(self.path).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    @property
    def package(self) -> str:
        """The module's own package (for resolving relative imports)."""
        return self.module if self.path.endswith("__init__.py") else self.module.rpartition(".")[0]


def imports(src: Source) -> list[str]:
    """Every module a file imports, relative imports resolved, ``from x import y`` as x.y too
    (so importing a sub-module by name counts)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(src.text)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = src.package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, allowed: set[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def violations(sources: list[Source]) -> list[str]:
    problems = []
    for src in sources:
        top = src.path.split("/")[0]
        modules = imports(src)
        for module in modules:
            root = module.split(".")[0]
            if root in OURS and top in ALLOWED:
                # `from api import app` names api.app; the bare package line itself is fine
                if module in OURS:
                    continue
                if not _within(module, ALLOWED[top]):
                    problems.append(f"{src.path} imports {module}")
            elif root in FORBIDDEN_THIRD_PARTY.get(top, set()):
                problems.append(f"{src.path} imports {module} ({root} does not belong in {top}/)")
        if src.path.startswith("api/routers/"):
            own = src.module
            for module in modules:
                if (module.startswith("api.routers.") and module != own
                        and not module.startswith(own + ".")):
                    problems.append(f"{src.path} imports another router, {module}")
        if top == "api":
            for module in modules:
                if module.startswith("sqlalchemy.") and module.split(".")[-1] in SQL_BUILDERS:
                    problems.append(f"{src.path} writes SQL ({module}); put the query in layers/")
        if top == "api":
            problems.extend(_async_session_use(src))
        lines = src.text.count("\n") + 1
        if (top in OURS and lines > MAX_MODULE_LINES
                and not src.path.startswith(MAX_LINES_EXEMPT)):
            problems.append(f"{src.path} has {lines} lines, over {MAX_MODULE_LINES}: split it "
                            f"along its concerns")
        if top in OURS and lines > LONG_MODULE_LINES and LONG_MODULE_REASON not in src.text[:3000]:
            problems.append(f"{src.path} has {lines} lines and no '{LONG_MODULE_REASON}' at its top")
    return problems


def _async_session_use(src: Source) -> list[str]:
    """An ``async def`` runs on the event loop: a database call there stalls every request of
    the process. So no async function of the API takes the session (by name, type or
    dependency) or opens one (``sessionmaker``) outside a nested sync function — DB work runs in
    sync routes (FastAPI's thread pool) or in a sync function handed to ``run_in_threadpool``."""
    found = []
    for node in ast.walk(ast.parse(src.text)):
        if not isinstance(node, ast.AsyncFunctionDef) or not (
                src.path.startswith("api/routers/") or any(map(_is_route, node.decorator_list))):
            continue  # the app's start (lifespan) may block: nothing is served yet
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        defaults = [d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None]
        signature = [ast.unparse(a.annotation) for a in args if a.annotation is not None]
        signature += [ast.unparse(d) for d in defaults]
        if any(a.arg == "session" for a in args) or any(SESSION_NAMES.search(t) for t in signature):
            found.append(f"{src.path}: async route {node.name} takes the database session; make it a "
                         f"sync route (read the body in an async dependency)")
        for inner in _same_frame(node):
            called = inner.func if isinstance(inner, ast.Call) else None
            if isinstance(called, ast.Attribute) and called.attr == "begin":
                called = called.value  # sessionmaker.begin()
            if isinstance(called, ast.Attribute) and called.attr in ("sessionmaker",
                                                                     "read_sessionmaker"):
                found.append(f"{src.path}: async route {node.name} opens a database session "
                             f"on the event loop; do it in a sync function run in the thread pool")
    return found


def _is_route(decorator: ast.expr) -> bool:
    """``@router.get(…)``, ``@app.post(…)``, ``@router.api_route(…)``."""
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(func, ast.Attribute) and func.attr in (
        "get", "post", "put", "patch", "delete", "head", "api_route")


def _same_frame(node: ast.AST):
    """The nodes a function runs itself: nested sync functions and lambdas are left out (they
    run where they are handed — the thread pool)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.Lambda)):
            continue
        yield child
        yield from _same_frame(child)


def _tree() -> list[Source]:
    return [Source(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
            for top in sorted(OURS) for p in (ROOT / top).rglob("*.py")]


def test_the_code_keeps_every_rule():
    assert violations(_tree()) == []


# -- each rule catches a violation ----------------------------------------------------------------
@pytest.mark.parametrize(("path", "text", "expected"), [
    ("gis/bad.py", "from layers.storage import models\n", "imports layers.storage"),
    ("layers/maps/bad.py", "from ...api import errors\n", "imports api.errors"),
    ("layers/maps/bad.py", "from . import queries\n", None),
    ("map_ui/bad.py", "import api.app\n", "imports api.app"),
    ("gridmap/bad.py", "from api.routers.locate import locate\n", "imports api.routers.locate"),
    ("bench/bad.py", "from api.routers import stats\n", "imports api.routers.stats"),
    ("bench/ok.py", "from api.app import create_app\n", None),
])
def test_imports_must_point_down_relative_ones_included(path, text, expected):
    found = violations([Source(path, text)])
    assert (found == []) if expected is None else any(expected in v for v in found)


@pytest.mark.parametrize(("path", "text"), [
    ("gis/bad.py", "import sqlalchemy\n"),
    ("gis/bad.py", "from geoalchemy2.shape import to_shape\n"),
    ("gis/bad.py", "import psycopg\n"),
    ("gis/bad.py", "from fastapi import FastAPI\n"),
    ("gis/bad.py", "from starlette.requests import Request\n"),
    ("layers/bad.py", "from fastapi import HTTPException\n"),
    ("layers/bad.py", "from starlette.responses import Response\n"),
    ("gridmap/cli/bad.py", "from sqlalchemy import text\n"),
    ("gridmap/cli/bad.py", "import psycopg\n"),
])
def test_a_floor_may_not_use_the_libraries_of_the_floors_above(path, text):
    assert violations([Source(path, text)])


def test_a_router_may_not_import_another_router():
    found = violations([Source("api/routers/geocode.py", "from api.routers.locate import to_point\n")])
    assert any("another router" in v for v in found)
    found = violations([Source("api/routers/geocode.py", "from .locate import to_point\n")])
    assert any("another router" in v for v in found)


def test_the_api_may_not_write_sql():
    found = violations([Source("api/routers/stats.py", "from sqlalchemy import text\n")])
    assert any("writes SQL" in v for v in found)
    assert violations([Source("api/deps.py", "from sqlalchemy.orm import Session\n")]) == []


@pytest.mark.parametrize("text", [
    "async def upload(session: SessionDep):\n    return session.get(Case, 1)\n",
    "async def upload(db: Annotated[Session, Depends(get_session)]):\n    pass\n",
    "async def upload(request, session):\n    pass\n",
    "async def upload(request):\n    with request.app.state.sessionmaker() as s:\n        pass\n",
    "async def upload(request):\n    with request.app.state.sessionmaker.begin() as s:\n"
    "        pass\n",
])
def test_an_async_route_never_touches_the_database_session(text):
    found = violations([Source("api/routers/cases.py", text)])
    assert any("async route upload" in v for v in found)


def test_async_code_may_hand_database_work_to_the_thread_pool():
    text = ("async def route(request):\n"
            "    def work():\n"
            "        with request.app.state.sessionmaker() as s:\n"
            "            return 1\n"
            "    return await run_in_threadpool(work)\n"
            "def sync_route(session: SessionDep):\n    pass\n")
    assert violations([Source("api/routers/cases.py", text)]) == []


def test_a_long_module_says_why_at_its_top():
    body = "x = 1\n" * (LONG_MODULE_LINES + 1)
    assert violations([Source("layers/long.py", body)])
    assert violations([Source("layers/long.py", f'"""{LONG_MODULE_REASON} data."""\n' + body)]) == []


def test_no_module_is_over_600_lines_outside_the_migrations_and_the_demo_generator():
    body = f'"""{LONG_MODULE_REASON} data."""\n' + "x = 1\n" * MAX_MODULE_LINES
    assert any("split it" in v for v in violations([Source("gridmap/cli/long.py", body)]))
    assert violations([Source("layers/demo/city.py", body)]) == []


def test_every_domain_error_has_a_status_in_the_one_error_table():
    """A domain exception without a row would be a 500; the table must cover them all."""
    import api.app  # noqa: F401 - imports every module that defines domain errors
    from api.errors import status_of
    from layers.errors import DomainError

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    missing = [f"{c.__module__}.{c.__qualname__}" for c in subclasses(DomainError)
               if not c.__module__.startswith("tests") and status_of(c("probe")) is None]
    assert missing == []


def test_no_script_of_our_pages_is_over_600_lines():
    """The pages' own JavaScript keeps the modules' rule (the vendored libraries are not ours)."""
    static = ROOT / "map_ui" / "static"
    long = [f"{p.name}: {n} lines" for p in sorted(static.glob("*.js"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert long == [], f"split these by concern: {long}"
