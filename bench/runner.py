"""Benchmark runner: ``gridmap bench`` or ``python -m bench``.

Each ``bench/bench_*.py`` module exposes ``run() -> list[Figure]``. The runner prints one table
with the machine it ran on and writes ``bench/results/latest.json``; docs/benchmarks.md records
the figures. Medians over repeats, and ratios measured side by side in the same run, because this
machine (2 cores, shared) is noisy.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"


@dataclass
class Figure:
    benchmark: str
    variant: str
    value: float
    unit: str
    note: str = ""


def median_seconds(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": f"{mem_gib:.0f} GiB",
            "python": platform.python_version(), "os": platform.platform(terse=True)}


def _throwaway_register_key() -> None:
    """Benchmarks run on scratch databases: a key of their own when none is configured (the
    servers they start refuse to run without one)."""
    from gridmap.settings import get_settings
    from layers.register.crypto import generate_key

    settings = get_settings()
    if not settings.register_key and not settings.key_file.exists():
        os.environ["GRIDMAP_REGISTER_KEY"] = generate_key()
        get_settings.cache_clear()


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


def main(only: list[str]) -> int:
    console = Console()
    _throwaway_register_key()
    names = [n for n in discover() if not only or n.removeprefix("bench_") in only or n in only]
    info = machine()
    console.print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    figures: list[Figure] = []
    for name in names:
        console.print(f"running {name} …")
        figures.extend(importlib.import_module(f"bench.{name}").run())
    table = Table("benchmark", "variant", "value", "unit", "note")
    for f in figures:
        table.add_row(f.benchmark, f.variant, f"{f.value:,.3f}", f.unit, f.note)
    console.print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(
        {"machine": info, "figures": [asdict(f) for f in figures]}, ensure_ascii=False, indent=2))
    return 0
