"""Idempotency keys, one way for every create a client may resend (a case, a visit, a patrol, a
task, a grid task's step, a workflow action on a case, a remote response — what the phone's
offline queue and the desk replay): the client sends the same ``Idempotency-Key`` with each
attempt, and a resend answers what the first attempt made.

A key is **bound to the caller** who sent it first. A resend by anyone else is refused (403)
without a word about the record: answering it would hand another area's visit, another worker's
patrol or a department's task to whoever learnt the key, and silently drop the replayer's own
write. Two attempts racing with one key make one record: the loser's insert fails on the key's
unique index inside a savepoint and it answers the winner's record.

Each keyed table names the column holding its caller (the credential's name, unique per user)
and, where one key could name several requests, the columns that must match too (a workflow
action's case and action): the same key sent for another request is refused (409).

Not keyed here, on purpose: a case's photos are keyed by their content (the same bytes on the
same case are the same photo, SHA-256, layers/cases/photos.py) — a resent upload needs no key.
Open311's ``idempotency_key`` form field is this same key, for GeoReport clients that can only
send form fields (the header wins when both are sent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from layers.access.policy import Forbidden
from layers.errors import DomainError

MAX_KEY_LENGTH = 100


@dataclass(frozen=True)
class Keyed:
    """A table whose rows a client creates with an idempotency key."""

    table: str
    owner: str  # the column holding the caller's name
    key: str = "key"
    same: tuple[str, ...] = ()  # columns a resend must match too (else: another request)


CASES = Keyed("cases", "reported_by", "idempotency_key")
VISITS = Keyed("visits", "recorded_by")
PATROLS = Keyed("patrols", "worker")
TASKS = Keyed("tasks", "created_by")
TASK_STEPS = Keyed("grid_task_events", "actor")
CASE_ACTIONS = Keyed("case_events", "actor", "idempotency_key", same=("case_id", "action"))
CASE_RESPONSES = Keyed("case_responses", "operator", "idempotency_key", same=("case_id",))


class KeyOfAnotherCaller(Forbidden):
    code = "idempotency_key_taken"


class IdempotencyConflict(DomainError):
    """The caller's own key, sent again for another request (another case, another action)."""

    code = "idempotency_conflict"


def replayed(session: Session, kind: Keyed, key: str | None, caller: str,
             **same: object) -> int | None:
    """The id of the row ``caller`` made with ``key`` before, None if the key is new (or none
    was sent); KeyOfAnotherCaller if someone else made it, IdempotencyConflict if it was made
    for another request (``same``: the values of ``kind.same`` this request has)."""
    if not key:
        return None
    columns = "".join(f", {c}" for c in kind.same)
    row = session.execute(text(f"SELECT id, {kind.owner} AS owner{columns} FROM {kind.table} "
                               f"WHERE {kind.key} = :key"), {"key": key}).one_or_none()
    if row is None:
        return None
    if row.owner != caller:
        raise KeyOfAnotherCaller("this Idempotency-Key belongs to another caller's request: "
                                 "send a new key (a random UUID) with each new request",
                                 zh="该幂等键已被其他账号使用，请为新的请求生成新的键")
    if any(str(getattr(row, c)) != str(same[c]) for c in kind.same):
        raise IdempotencyConflict("this Idempotency-Key was used for another request; send a new "
                                  "key (a random UUID) for a new request",
                                  zh="该请求标识已用于其他操作")
    return row.id


def insert_once(session: Session, kind: Keyed, key: str | None, caller: str,
                insert: Callable[[], int], **same: object) -> tuple[int, bool]:
    """(the row's id, whether it is new): ``insert()`` runs in a savepoint unless the caller's
    key was seen; if a concurrent attempt with the key wins the race, its row is answered."""
    found = replayed(session, kind, key, caller, **same)
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            return insert(), True
    except IntegrityError:
        found = replayed(session, kind, key, caller, **same)
        if found is None:  # not the key's index: a real integrity error
            raise
        return found, False
