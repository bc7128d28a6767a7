"""The mypy rule of ./test.sh (scripts/mypy_baseline.py): gis/ and layers/ have no error at all;
elsewhere a module may have at most the errors mypy-baseline.txt records for it."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mypy_baseline.py"
_spec = importlib.util.spec_from_file_location("mypy_baseline", SCRIPT)
assert _spec is not None and _spec.loader is not None
rule = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rule)


def test_an_error_in_gis_or_layers_fails_even_where_the_baseline_records_it():
    counts = Counter({"gis/crs.py": 1, "layers/cases/workflow.py": 2})
    baseline = Counter({"gis/crs.py": 4, "layers/cases/workflow.py": 2})
    assert rule.verdict(counts, baseline) == {"gis/crs.py": (0, 1),
                                              "layers/cases/workflow.py": (0, 2)}


def test_elsewhere_a_module_may_keep_the_errors_recorded_for_it_but_not_one_more():
    baseline = Counter({"api/routers/plans.py": 3})
    assert rule.verdict(Counter({"api/routers/plans.py": 3}), baseline) == {}
    assert rule.verdict(Counter({"api/routers/plans.py": 2}), baseline) == {}
    assert rule.verdict(Counter({"api/routers/plans.py": 4}), baseline) == {
        "api/routers/plans.py": (3, 4)}


def test_an_error_in_a_module_the_baseline_does_not_list_fails():
    assert rule.verdict(Counter({"map_ui/pages.py": 1}), Counter()) == {"map_ui/pages.py": (0, 1)}


def test_the_written_baseline_never_lists_a_module_of_gis_or_layers(tmp_path, monkeypatch):
    monkeypatch.setattr(rule, "BASELINE", tmp_path / "mypy-baseline.txt")
    rule.write_baseline(Counter({"api/app.py": 1, "gis/crs.py": 2, "layers/clock.py": 1}))
    assert rule.read_baseline() == Counter({"api/app.py": 1})


def test_the_recorded_baseline_lists_no_module_of_gis_or_layers():
    assert [path for path in rule.read_baseline() if rule.is_clean(path)] == []
