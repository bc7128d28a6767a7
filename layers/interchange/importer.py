"""Import, export and the demo load: read → validate → write, all-or-nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from layers.access import audit
from layers.access.audit import cli_principal
from layers.access.policy import Principal, require
from layers.boundaries import generations
from layers.interchange import formats
from layers.interchange.dataset import Dataset
from layers.interchange.store import WriteReport, write_dataset
from layers.interchange.validate import Context, Report, validate
from layers.limits import Limits
from layers.limits import current as current_limits
from layers.storage.db import session_scope


@dataclass
class ImportOutcome:
    report: Report
    notes: list[str] = field(default_factory=list)
    written: WriteReport | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.report.errors


def write_validated(engine: Engine, dataset: Dataset, *, tolerance_m: float = 1.0,
                    make_valid: bool = False, dry_run: bool = False,
                    draft_name: str = "导入 import",
                    max_vertices: int | None = None) -> ImportOutcome:
    """Validate against what the database holds, then write in one transaction (or not at all)."""
    with session_scope(engine) as session:
        context = Context(areas=formats.existing_areas(session))
        report = validate(dataset, context, tolerance_m=tolerance_m, make_valid=make_valid,
                          max_vertices=max_vertices)
        outcome = ImportOutcome(report=report, counts=dataset.counts())
        if report.errors or dry_run:
            return outcome
        outcome.written = write_dataset(session, dataset, draft_name=draft_name)
    return outcome


def import_path(engine: Engine, path: Path, *, from_crs: str | None = None,
                encoding: str | None = None, swap_xy: bool = False, make_valid: bool = False,
                tolerance_m: float = 1.0, dry_run: bool = False,
                limits: Limits | None = None) -> ImportOutcome:
    """Read, validate and write a file or folder of layers, within the import bounds (file
    sizes, vertices per geometry: layers/limits.py)."""
    limits = limits or current_limits()
    path = Path(path)
    for file in (sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else
                 [path] if path.exists() else []):
        limits.check_file(file)
    result = formats.read(path, from_crs=from_crs, encoding=encoding, swap_xy=swap_xy)
    if result.report.errors:
        return ImportOutcome(report=result.report, notes=result.notes,
                             counts=result.dataset.counts())
    outcome = write_validated(engine, result.dataset, tolerance_m=tolerance_m,
                              make_valid=make_valid, dry_run=dry_run,
                              draft_name=f"导入 {Path(path).name}",
                              max_vertices=limits.max_vertices)
    outcome.notes = result.notes + outcome.notes
    outcome.report[:0] = result.report  # warnings from reading come first
    return outcome


def export_path(engine: Engine, path: Path, fmt: str, generation_id: int | None = None, *,
                personal_data: bool = False, by: Principal | None = None) -> list[Path]:
    """Export everything (formats.write: one file or one folder). Workers' phone numbers are
    masked unless ``personal_data``, which needs ``export.personal`` (the admin); every export
    is audited with whether it carried personal data."""
    by = by or cli_principal()
    if personal_data:
        require(by, "export.personal")
    with session_scope(engine) as session:
        if generation_id is None:
            active = generations.active(session)
            if active is None:
                raise generations.GenerationError("nothing to export: no active generation")
            generation_id = active.id
        else:
            generations.get(session, generation_id)
        dataset = formats.load_dataset(session, generation_id)
        written = formats.write(dataset, path, fmt, personal_data=personal_data)
        audit.record(session, by, "export", target=str(formats.target_path(path, fmt)),
                     format=fmt, generation=generation_id, personal_data=personal_data,
                     workers=0 if dataset.workers is None else len(dataset.workers))
    return written
