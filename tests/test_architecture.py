"""The house rules, enforced: imports point down only (api → map_ui → layers → gis, with
gridmap.settings a shared leaf), each floor keeps out what does not belong to it, routers are thin,
and modules stay readable. Every rule has a test that shows it catching a violation, so the suite
would notice if a rule stopped working."""

from __future__ import annotations

import ast
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
    "gridmap": {"gridmap", "layers", "gis", "bench", "api.app", "api.main"},
    "bench": {"bench", "layers", "gis", "gridmap", "api.app", "api.main"},
}
# Third-party packages a floor may not use.
FORBIDDEN_THIRD_PARTY = {
    "gis": {"sqlalchemy", "geoalchemy2", "psycopg", "psycopg_pool", "alembic", "fastapi",
            "starlette"},
    "layers": {"fastapi", "starlette", "uvicorn"},
    "map_ui": {"fastapi", "starlette"},
}
# Query builders that mean SQL is being written: they belong in layers/, never in api/.
SQL_BUILDERS = {"text", "select", "insert", "update", "delete", "func", "literal_column"}
LONG_MODULE_LINES = 500
LONG_MODULE_REASON = "Why this module is long:"


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
        lines = src.text.count("\n") + 1
        if top in OURS and lines > LONG_MODULE_LINES and LONG_MODULE_REASON not in src.text[:3000]:
            problems.append(f"{src.path} has {lines} lines and no '{LONG_MODULE_REASON}' at its top")
    return problems


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


def test_a_long_module_says_why_at_its_top():
    body = "x = 1\n" * (LONG_MODULE_LINES + 1)
    assert violations([Source("layers/long.py", body)])
    assert violations([Source("layers/long.py", f'"""{LONG_MODULE_REASON} data."""\n' + body)]) == []


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
