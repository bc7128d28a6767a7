"""A plan's history keeps the geometry: nothing a planner does is lost.

Every change to a plan's grids is one entry of ``plan_events`` plus, in ``plan_event_grids``,
each grid it touched as it was *before* and *after* (name, kind, properties, planned workers and
the exact geometry; no geometry: the grid did not exist on that side). From that:

- **undo** writes the ``before`` side of the newest change not yet undone back, **redo** the
  ``after`` side of the newest undone one (a new change empties the redo stack, as in every
  editor); undo and redo are entries themselves, so the history only grows;
- **restore** brings back the plan as it stood after any earlier entry: for each grid changed
  since, its state after the last entry up to that point (or before the first one after it);
- the history is readable: who, what, when, which grids, and each entry's geometry.

A rebase (the plan moved onto boundaries published since it began) is a barrier: what lies
before it was drawn on other boundaries, so undo and restore stop there (the entries stay
readable). Undo checks that the grids still are as the entry left them; they always are when
every change goes through here, and a 409 says so if they are not.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from layers.access import audit
from layers.access.policy import Principal
from layers.planning.plans import InvalidEdit, StaleVersion
from layers.storage.models import Plan, PlanEvent, PlanUnit

# changes of the grids (each has its before/after snapshot) that undo can take back
UNDOABLE = frozenset({"replace", "split", "merge", "create_grid", "delete_grid", "workers",
                      "assign", "upload", "suggest", "rebalance", "restore"})
# what undo and restore cannot go back across
BARRIERS = frozenset({"rebase"})
ACTIONS_ZH = {"create": "创建规划", "replace": "重画边界", "split": "分割网格", "merge": "合并网格",
              "create_grid": "新建网格", "delete_grid": "删除网格", "workers": "配置网格员",
              "assign": "划入单元", "upload": "上传网格", "suggest": "应用均衡建议",
              "rebalance": "应用最小调整", "restore": "恢复到历史状态", "undo": "撤销",
              "redo": "重做", "rebase": "同步已发布的边界", "publish": "发布", "cancel": "取消发布",
              "discard": "放弃规划"}


class Change:
    """One entry of the history around an edit: ``before(codes)`` before writing, ``done()``
    after (the edit's writes flushed), in the edit's transaction."""

    def __init__(self, session: Session, plan: Plan, by: Principal, action: str, **detail):
        self.session, self.plan, self.by, self.action = session, plan, by, action
        self.event = PlanEvent(plan_id=plan.id, actor=by.name, action=action, grids=[],
                               detail=detail)
        session.add(self.event)
        session.flush()
        self.codes: list[str] = []

    def before(self, codes) -> None:
        new = sorted(set(codes) - set(self.codes))
        _snapshot(self.session, self.plan, self.event.id, "before", new)
        self.codes += new

    def done(self, extra_codes=(), **detail) -> PlanEvent:
        """Record the ``after`` side of every grid snapshotted before (plus ``extra_codes``,
        grids the edit made: they did not exist before)."""
        extra = sorted(set(extra_codes) - set(self.codes))
        if extra:
            _snapshot(self.session, self.plan, self.event.id, "before", extra)
            self.codes += extra
        self.session.flush()
        _snapshot(self.session, self.plan, self.event.id, "after", self.codes)
        self.event.grids = sorted(self.codes)
        if detail:
            self.event.detail = {**self.event.detail, **detail}
        audit.record(self.session, self.by, f"plan.{self.action}", f"plan {self.plan.id}",
                     grids=self.event.grids or None)
        return self.event


def _snapshot(session: Session, plan: Plan, event_id: int, side: str, codes: list[str]) -> None:
    if not codes:
        return
    session.execute(text("""
        INSERT INTO plan_event_grids (event_id, code, side, name, kind, properties, workers, geom)
        SELECT :event, c.code, :side, a.name, a.kind, a.properties,
               COALESCE((SELECT jsonb_agg(jsonb_build_array(pa.worker_code, pa.role::text)
                                          ORDER BY pa.worker_code, pa.role)
                         FROM plan_assignments pa
                         WHERE pa.plan_id = :plan AND pa.grid_code = c.code), '[]'::jsonb),
               a.geom
        FROM unnest(CAST(:codes AS text[])) AS c(code)
        LEFT JOIN areas a ON a.generation_id = :g AND a.code = c.code AND a.level = 'grid'
    """), {"event": event_id, "side": side, "codes": list(codes), "plan": plan.id,
           "g": plan.generation_id})


def apply_side(session: Session, plan: Plan, event_id: int, side: str) -> list[str]:
    """Make the plan's grids what one side of an entry says; returns the codes written."""
    params = {"e": event_id, "side": side, "g": plan.generation_id, "plan": plan.id}
    codes = list(session.scalars(text(
        "SELECT code FROM plan_event_grids WHERE event_id = :e AND side = :side ORDER BY code"),
        params))
    session.execute(text("""
        DELETE FROM areas a USING plan_event_grids s
        WHERE s.event_id = :e AND s.side = :side AND s.geom IS NULL
          AND a.generation_id = :g AND a.code = s.code AND a.level = 'grid'
    """), params)
    session.execute(text("""
        UPDATE areas a SET name = s.name, kind = s.kind, properties = s.properties, geom = s.geom,
               version = a.version + 1
        FROM plan_event_grids s
        WHERE s.event_id = :e AND s.side = :side AND s.geom IS NOT NULL
          AND a.generation_id = :g AND a.code = s.code AND a.level = 'grid'
    """), params)
    # a grid that comes back gets a version above any it had, so no page's stale edit lands
    session.execute(text("""
        INSERT INTO areas (generation_id, code, name, level, parent_id, kind, properties, geom,
                           version)
        SELECT :g, s.code, s.name, 'grid', c.id, s.kind, s.properties, s.geom,
               1 + (SELECT count(*) FROM plan_event_grids o JOIN plan_events e ON e.id = o.event_id
                    WHERE e.plan_id = :plan AND o.code = s.code)
        FROM plan_event_grids s
        JOIN areas c ON c.generation_id = :g AND c.code = left(s.code, 12) AND c.level = 'community'
        WHERE s.event_id = :e AND s.side = :side AND s.geom IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM areas x WHERE x.generation_id = :g AND x.code = s.code)
    """), params)
    session.execute(text("""
        DELETE FROM plan_assignments pa USING plan_event_grids s
        WHERE s.event_id = :e AND s.side = :side AND pa.plan_id = :plan AND pa.grid_code = s.code
    """), params)
    session.execute(text("""
        INSERT INTO plan_assignments (plan_id, grid_code, worker_code, role)
        SELECT :plan, s.code, w ->> 0, CAST(w ->> 1 AS worker_role)
        FROM plan_event_grids s, jsonb_array_elements(s.workers) AS w
        WHERE s.event_id = :e AND s.side = :side AND s.geom IS NOT NULL
    """), params)
    return codes


def _differing(session: Session, a: int, side_a: str, b: int, side_b: str) -> list[str]:
    """Codes whose snapshots differ between two entry sides (geometry compared exactly)."""
    return list(session.scalars(text("""
        SELECT COALESCE(x.code, y.code) FROM
            (SELECT * FROM plan_event_grids WHERE event_id = :a AND side = :sa) x
        FULL JOIN (SELECT * FROM plan_event_grids WHERE event_id = :b AND side = :sb) y
            ON x.code = y.code
        WHERE x.code IS NULL OR y.code IS NULL
           OR (x.geom IS NULL) <> (y.geom IS NULL)
           OR (x.geom IS NOT NULL AND NOT (ST_AsBinary(x.geom) = ST_AsBinary(y.geom)
               AND x.name = y.name AND x.kind = y.kind AND x.properties = y.properties
               AND x.workers = y.workers))
        ORDER BY 1
    """), {"a": a, "sa": side_a, "b": b, "sb": side_b}))


def _events(session: Session, plan: Plan) -> list[PlanEvent]:
    return list(session.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id)
                                .order_by(PlanEvent.id)))


def stacks(events: list[PlanEvent]) -> tuple[list[int], list[int]]:
    """(undo stack, redo stack) of entry ids, newest last, replayed from the history."""
    undo: list[int] = []
    redo: list[int] = []
    for e in events:
        if e.action in UNDOABLE:
            undo.append(e.id)
            redo.clear()
        elif e.action == "undo" and undo:
            redo.append(undo.pop())
        elif e.action == "redo" and redo:
            undo.append(redo.pop())
        elif e.action in BARRIERS:
            undo.clear()
            redo.clear()
    return undo, redo


def _units_back(session: Session, plan: Plan, entry: PlanEvent, side: str, codes: list[str]) -> None:
    """Painting moved units between grids: move them back (or on again), or — if the units were
    recomputed since — forget the grids' units (they are recomputed from the grids)."""
    moves = entry.detail.get("units") if entry.action in ("assign", "suggest", "rebalance") else None
    if moves:
        wanted = {int(u): (m[0] if side == "before" else m[1]) for u, m in moves.items()}
        held = {int(u): (m[1] if side == "before" else m[0]) for u, m in moves.items()}
        found = dict(session.execute(select(PlanUnit.id, PlanUnit.grid_code).where(
            PlanUnit.plan_id == plan.id, PlanUnit.id.in_(list(wanted)))).all())
        if found == held:
            for unit in session.scalars(select(PlanUnit).where(PlanUnit.plan_id == plan.id,
                                                               PlanUnit.id.in_(list(wanted)))):
                unit.grid_code = wanted[unit.id]
            session.flush()
            return
    if codes:
        session.execute(delete(PlanUnit).where(PlanUnit.plan_id == plan.id,
                                               PlanUnit.grid_code.in_(sorted(codes))))


def undo(session: Session, plan: Plan, by: Principal) -> dict:
    undo_stack, _redo = stacks(_events(session, plan))
    if not undo_stack:
        raise InvalidEdit("there is nothing to undo", zh="没有可撤销的操作")
    return _step(session, plan, by, session.get_one(PlanEvent, undo_stack[-1]), "undo", "before")


def redo(session: Session, plan: Plan, by: Principal) -> dict:
    _undo, redo_stack = stacks(_events(session, plan))
    if not redo_stack:
        raise InvalidEdit("there is nothing to redo", zh="没有可重做的操作")
    return _step(session, plan, by, session.get_one(PlanEvent, redo_stack[-1]), "redo", "after")


def _step(session: Session, plan: Plan, by: Principal, entry: PlanEvent, action: str,
          side: str) -> dict:
    codes = list(session.scalars(text(
        "SELECT code FROM plan_event_grids WHERE event_id = :e AND side = :s ORDER BY code"),
        {"e": entry.id, "s": side}))
    change = Change(session, plan, by, action, of=entry.id, of_action=entry.action)
    change.before(codes)
    expected = "after" if side == "before" else "before"
    moved = _differing(session, change.event.id, "before", entry.id, expected)
    if moved:
        raise StaleVersion(f"grids {', '.join(moved)} changed after entry {entry.id}; "
                           "reload the plan", zh="网格已被修改，请刷新后重试")
    session.execute(text("""
        INSERT INTO plan_event_grids (event_id, code, side, name, kind, properties, workers, geom)
        SELECT :new, code, 'after', name, kind, properties, workers, geom
        FROM plan_event_grids WHERE event_id = :e AND side = :s
    """), {"new": change.event.id, "e": entry.id, "s": side})
    apply_side(session, plan, change.event.id, "after")
    _units_back(session, plan, entry, side, codes)
    session.flush()
    change.event.grids = codes
    audit.record(session, by, f"plan.{action}", f"plan {plan.id}", grids=codes or None, of=entry.id)
    return {"entry": _entry(change.event), "of": _entry(entry), "grids": codes}


def restore(session: Session, plan: Plan, entry_id: int, by: Principal) -> dict:
    """The plan as it stood right after entry ``entry_id`` (an entry of this plan, not before
    the last rebase); a new entry, so it can be undone in turn."""
    events = _events(session, plan)
    ids = [e.id for e in events]
    if entry_id not in ids:
        raise InvalidEdit(f"entry {entry_id} is not in this plan's history", zh="历史记录中没有该条目")
    barrier = max((e.id for e in events if e.action in BARRIERS), default=0)
    if entry_id < barrier:
        raise InvalidEdit(f"entry {entry_id} was drawn on boundaries replaced by the rebase of entry "
                          f"{barrier}; restore an entry from {barrier} on",
                          zh="该历史状态早于同步已发布边界的操作，无法恢复")
    rows = session.execute(text("""
        SELECT s.event_id, s.code, s.side FROM plan_event_grids s
        JOIN plan_events e ON e.id = s.event_id WHERE e.plan_id = :plan ORDER BY s.event_id
    """), {"plan": plan.id}).all()
    later = sorted({r.code for r in rows if r.event_id > entry_id})
    pick: dict[str, tuple[int, str]] = {}
    for code in later:
        upto = [r.event_id for r in rows if r.code == code and r.side == "after"
                and r.event_id <= entry_id]
        if upto:
            pick[code] = (max(upto), "after")
        else:
            pick[code] = (min(r.event_id for r in rows if r.code == code and r.side == "before"
                              and r.event_id > entry_id), "before")
    change = Change(session, plan, by, "restore", to=entry_id)
    change.before(later)
    for code, (event, side) in pick.items():
        session.execute(text("""
            INSERT INTO plan_event_grids (event_id, code, side, name, kind, properties, workers, geom)
            SELECT :new, code, 'after', name, kind, properties, workers, geom
            FROM plan_event_grids WHERE event_id = :e AND side = :s AND code = :code
        """), {"new": change.event.id, "e": event, "s": side, "code": code})
    apply_side(session, plan, change.event.id, "after")
    if later:
        session.execute(delete(PlanUnit).where(PlanUnit.plan_id == plan.id,
                                               PlanUnit.grid_code.in_(sorted(later))))
    session.flush()
    change.event.grids = later
    audit.record(session, by, "plan.restore", f"plan {plan.id}", grids=later or None, to=entry_id)
    return {"entry": _entry(change.event), "grids": later}


def _entry(e: PlanEvent) -> dict:
    return {"id": e.id, "at": e.at.isoformat() if e.at else None, "actor": e.actor,
            "action": e.action, "action_zh": ACTIONS_ZH.get(e.action, e.action), "grids": e.grids,
            "detail": e.detail}


def pointers(session: Session, plan: Plan) -> dict:
    """What undo and redo would take back now (entry ids, or None)."""
    undo_stack, redo_stack = stacks(_events(session, plan))
    return {"undo": undo_stack[-1] if undo_stack else None,
            "redo": redo_stack[-1] if redo_stack else None}


def listing(session: Session, plan: Plan) -> dict:
    """The readable history, oldest first, with what undo and redo would take back."""
    events = _events(session, plan)
    undo_stack, redo_stack = stacks(events)
    barrier = max((e.id for e in events if e.action in BARRIERS), default=0)
    return {"entries": [{**_entry(e), "restorable": e.id >= barrier} for e in events],
            "undo": undo_stack[-1] if undo_stack else None,
            "redo": redo_stack[-1] if redo_stack else None}


def geometry(session: Session, plan: Plan, entry_id: int) -> dict:
    """One entry's grids before and after, as GeoJSON (what it changed, to look at or export)."""
    if session.scalar(select(PlanEvent.id).where(PlanEvent.plan_id == plan.id,
                                                 PlanEvent.id == entry_id)) is None:
        raise InvalidEdit(f"entry {entry_id} is not in this plan's history", zh="历史记录中没有该条目")
    rows = session.execute(text("""
        SELECT code, side, name, ST_AsGeoJSON(geom, 9) AS g FROM plan_event_grids
        WHERE event_id = :e ORDER BY side, code
    """), {"e": entry_id}).all()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(r.g) if r.g else None,
         "properties": {"code": r.code, "side": r.side, "name": r.name}} for r in rows]}
