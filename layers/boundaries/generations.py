"""Boundary generations: one active, drafts being edited, retired ones kept for the past.

Publishing is one transaction: the previous active generation is retired with ``effective_to`` set
to the new one's ``effective_from``, so "which boundaries were in force on date D" always has one
answer. A NOTIFY on channel ``gridmap_generation`` tells every API process to rebuild its indexes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from layers import clock
from layers.errors import DomainError
from layers.storage.models import Area, Generation, GenerationStatus

NOTIFY_CHANNEL = "gridmap_generation"
# The active generation's id, for SQL that reads versioned rows (areas) "as they are now".
ACTIVE_ID_SQL = "(SELECT id FROM generations WHERE status = 'active')"


class GenerationError(DomainError, ValueError):
    """An operation on generations that cannot be done as asked; the message says why."""

    code = "generation_conflict"


class NoGeneration(DomainError, LookupError):
    """No generation is in force for the date asked (or now)."""

    code = "no_generation"


def resolve(session: Session, at: dt.date | None) -> Generation:
    """The generation in force on ``at`` (None: the active one), or NoGeneration."""
    gen = in_force_on(session, at) if at else active(session)
    if gen is None:
        when = f"on {at}" if at else "now"
        raise NoGeneration(f"no boundaries are in force {when}; load some with `gridmap demo load` "
                           "or `gridmap import`", zh="该日期没有生效的网格边界")
    return gen


def active(session: Session) -> Generation | None:
    return session.scalars(
        select(Generation).where(Generation.status == GenerationStatus.ACTIVE)
    ).one_or_none()


def require_active(session: Session) -> Generation:
    """The active generation, for work that cannot do without one (a plan's impact, a rebase):
    refused with what to run when there is none, never an AttributeError on None."""
    found = active(session)
    if found is None:
        raise NoGeneration("no boundaries are in force; load some with `gridmap boundary load` "
                           "or `gridmap demo load`", zh="尚无生效的网格边界")
    return found


def in_force_on(session: Session, day: dt.date) -> Generation | None:
    """The generation whose boundaries were in force on ``day`` (active or retired)."""
    return session.scalars(
        select(Generation)
        .where(Generation.status != GenerationStatus.DRAFT)
        .where(Generation.effective_from <= day)
        .where((Generation.effective_to.is_(None)) | (Generation.effective_to > day))
        .order_by(Generation.effective_from.desc())
        .limit(1)
    ).one_or_none()


def get(session: Session, generation_id: int) -> Generation:
    generation = session.get(Generation, generation_id)
    if generation is None:
        raise GenerationError(f"no generation {generation_id}: see `gridmap generations list`")
    return generation


def list_all(session: Session) -> list[Generation]:
    return list(session.scalars(select(Generation).order_by(Generation.id)))


def create_draft(session: Session, name: str, *, copy_from: Generation | None = None) -> Generation:
    """A new draft, optionally a copy of another generation's areas (planners edit the copy)."""
    draft = Generation(name=name, status=GenerationStatus.DRAFT)
    session.add(draft)
    session.flush()
    if copy_from is not None:
        copy_areas(session, copy_from.id, draft.id)
    return draft


def copy_areas(session: Session, source_id: int, target_id: int) -> None:
    """Copy a generation's area tree in SQL, re-linking parents by code within the target."""
    session.execute(
        text("""
            INSERT INTO areas (generation_id, code, name, level, kind, properties, geom)
            SELECT :target, code, name, level, kind, properties, geom
            FROM areas WHERE generation_id = :source
        """),
        {"source": source_id, "target": target_id},
    )
    session.execute(
        text("""
            UPDATE areas AS child SET parent_id = parent.id
            FROM areas AS src_child
            JOIN areas AS src_parent ON src_parent.id = src_child.parent_id
            JOIN areas AS parent ON parent.code = src_parent.code AND parent.generation_id = :target
            WHERE src_child.generation_id = :source AND child.generation_id = :target
              AND child.code = src_child.code
        """),
        {"source": source_id, "target": target_id},
    )


def plan_of(session: Session, generation_id: int) -> int | None:
    """The plan whose draft this generation is, if any."""
    return session.scalar(text("SELECT id FROM plans WHERE generation_id = :g"),
                          {"g": generation_id})


def publish(session: Session, generation: Generation, effective_from: dt.date | None = None, *,
            today: dt.date | None = None, plan_door: bool = False) -> None:
    """Make a draft the active generation, retiring the current one, in one transaction — or,
    with an ``effective_from`` after ``today``, schedule it: lookups keep answering the current
    boundaries until that day, when :func:`activate_due` switches them (no restart).

    A plan's draft has one door, the plan's own publish (``plan_door``): it validates the plan,
    checks its workers and scheduled plans, and records it; publishing its generation directly
    would skip all of that."""
    if generation.status != GenerationStatus.DRAFT:
        raise GenerationError(
            f"generation {generation.id} is {generation.status.value}; only a draft can be published"
        )
    plan = plan_of(session, generation.id)
    if plan is not None and not plan_door:
        raise GenerationError(
            f"generation {generation.id} is the draft of plan {plan}: publish the plan with "
            f"`gridmap plans publish {plan}` (or POST /v1/plans/{plan}/publish), which validates "
            "it, checks its workers and scheduled plans, and records who published it")
    n_areas = session.scalar(select(func.count()).where(Area.generation_id == generation.id))
    if not n_areas:
        raise GenerationError(f"generation {generation.id} has no areas; import some first")
    today = today or clock.today()
    effective_from = effective_from or today
    current = active(session)
    if current is not None and current.effective_from and effective_from < current.effective_from:
        raise GenerationError(
            f"effective date {effective_from} is before the active generation's "
            f"{current.effective_from}; boundaries cannot change in the past"
        )
    generation.effective_from = effective_from
    generation.published_at = clock.now()
    if effective_from > today:
        generation.status = GenerationStatus.SCHEDULED
        session.flush()
        return
    _activate(session, generation, current)


def cancel(session: Session, generation: Generation, today: dt.date) -> None:
    """A generation scheduled outside planning goes back to a draft before its day."""
    plan = plan_of(session, generation.id)
    if plan is not None:
        raise GenerationError(f"generation {generation.id} is plan {plan}'s: cancel the plan "
                              f"with `gridmap plans cancel {plan}`")
    later = generation.effective_from is not None and generation.effective_from > today
    if generation.status != GenerationStatus.SCHEDULED or not later:
        raise GenerationError(f"generation {generation.id} is {generation.status.value} (from "
                              f"{generation.effective_from or '—'}); only a generation scheduled "
                              "for a later day can be cancelled")
    generation.status, generation.effective_from, generation.published_at = (
        GenerationStatus.DRAFT, None, None)
    session.flush()


def activate(session: Session, generation: Generation) -> None:
    """Switch to a scheduled generation now (its day has come)."""
    _activate(session, generation, active(session))


def _activate(session: Session, generation: Generation, current: Generation | None) -> None:
    if current is not None:
        session.execute(
            update(Generation)
            .where(Generation.id == current.id)
            .values(status=GenerationStatus.RETIRED, effective_to=generation.effective_from)
        )
        session.flush()
    generation.status = GenerationStatus.ACTIVE
    session.flush()
    refresh_building_grids(session)
    session.execute(text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": NOTIFY_CHANNEL, "payload": str(generation.id)})


# Which grid of the active generation each building stands in (table ``building_grids``): the
# register's scope and counts are joins on it, not a spatial join per request. Rebuilt whenever
# the answer can change: a generation becomes active, buildings are written. A building stands in
# the grid covering a point on its surface; on a shared edge, the smallest code (the locator's rule).
BUILDING_GRIDS_SQL = (
    "DELETE FROM building_grids",
    f"""
    INSERT INTO building_grids (building_id, grid_code)
    SELECT DISTINCT ON (b.id) b.id, g.code
    FROM buildings b
    JOIN areas g ON g.generation_id = {ACTIVE_ID_SQL} AND g.level = 'grid'
                AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
    ORDER BY b.id, g.code
    """,
)


def refresh_building_grids(session: Session) -> None:
    for statement in BUILDING_GRIDS_SQL:
        session.execute(text(statement))


def next_due(session: Session, today: dt.date) -> Generation | None:
    """The earliest scheduled generation whose day has come, locked (every API process runs the
    minute job; the row lock makes one of them switch it)."""
    return session.scalars(
        select(Generation).where(Generation.status == GenerationStatus.SCHEDULED,
                                 Generation.effective_from <= today)
        .order_by(Generation.effective_from, Generation.id)
        .with_for_update(skip_locked=True)
    ).first()


def activate_due(session: Session, today: dt.date) -> Generation | None:
    """Activate the scheduled generations whose day has come, earliest first (each retires the
    one before, so the dates stay one line); returns the last one. Plans' generations go
    through layers/planning/schedule.py, which first carries over what was published since."""
    last = None
    while (due := next_due(session, today)) is not None:
        _activate(session, due, active(session))
        last = due
    return last
