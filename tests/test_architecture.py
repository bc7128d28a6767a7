"""Imports point down only: api → map_ui → layers → gis (gridmap.settings is a shared leaf)."""

import ast
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
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in OURS}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_layers_below_it(package):
    allowed = ALLOWED[package]
    bad = []
    for path in (ROOT / package).rglob("*.py"):
        for module in _imports(path):
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert bad == []
