"""How long the probe's hostile files take to be refused (issue 26's goal: ≤ 10 s each, with a
clear message): the register reader (``read_table``: size, unpacked size, declared dimension,
header) and the GPX reader, in process, median of 3; and the whole `gridmap register import`
command for the zip bomb, interpreter start included. Before the bounds the same files ran the
importer for minutes, up to 3.85 GB of memory (the probe's figures)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.hostile_files import (
    gpx_doctype_after_comment,
    gpx_doctype_utf16,
    huge_dimension,
    small_xlsx,
    wide_csv,
    zip_bomb,
)
from bench.runner import Figure, median_seconds
from layers.errors import DomainError
from layers.field.patrols import from_gpx
from layers.limits import current
from layers.register.crypto import generate_key
from layers.register.importer import read_table


def _refused(call) -> None:
    try:
        call()
    except DomainError:
        return
    raise AssertionError("the hostile file was accepted")


def run() -> list[Figure]:
    limits = current()
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "xlsx declaring A1:XFD1048576": ("dim.xlsx", huge_dimension(small_xlsx())),
            "xlsx zip bomb (256 MB of XML)": ("bomb.xlsx", zip_bomb(small_xlsx(), mb=256)),
            "CSV of 1,000,000 columns": ("wide.csv", wide_csv()),
        }
        for what, (name, data) in files.items():
            path = Path(folder) / name
            path.write_bytes(data)
            seconds = median_seconds(lambda path=path: _refused(lambda: read_table(path, None,
                                                                                   limits)), 3)
            figures.append(Figure("hostile files", f"register reader: {what}", seconds, "s",
                                  f"{len(data) / 2**20:.1f} MB on disk"))
        for what, data in {"GPX: DOCTYPE after a 1 MB comment": gpx_doctype_after_comment(1 << 20),
                           "GPX: DOCTYPE in UTF-16": gpx_doctype_utf16()}.items():
            seconds = median_seconds(lambda data=data: _refused(lambda: from_gpx(data, limits)), 3)
            figures.append(Figure("hostile files", what, seconds, "s"))
        gridmap = str(Path(sys.executable).with_name("gridmap"))
        bomb = str(Path(folder) / "bomb.xlsx")
        # a throwaway register key: the command refuses the file before it reads any data
        env = {**os.environ, "GRIDMAP_REGISTER_KEY": generate_key()}

        def command() -> None:
            done = subprocess.run([gridmap, "register", "import", bomb, "--kind", "persons"],
                                  capture_output=True, text=True, env=env, check=False)
            assert done.returncode == 1 and "UNPACKED" in done.stdout + done.stderr, done

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds = median_seconds(command, 3, warmup=0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / 3
        figures.append(Figure("hostile files", "`gridmap register import bomb.xlsx`, whole command",
                              seconds, "s", "wall clock: interpreter start and imports included"))
        figures.append(Figure("hostile files", "the same command, CPU time", cpu, "s",
                              "user + system: what a quiet machine would take"))
    return figures
