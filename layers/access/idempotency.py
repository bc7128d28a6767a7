"""Idempotency keys, one way for every create a client may resend (a case, a visit, a patrol, a
task, a grid task's step — what the phone's offline queue replays): the client sends the same
``Idempotency-Key`` with each attempt, and a resend answers what the first attempt made.

A key is **bound to the caller** who sent it first. A resend by anyone else is refused (403)
without a word about the record: answering it would hand another area's visit, another worker's
patrol or a department's task to whoever learnt the key, and silently drop the replayer's own
write. Two attempts racing with one key make one record: the loser's insert fails on the key's
unique index inside a savepoint and it answers the winner's record.

Each keyed table names the column holding its caller (the credential's name, unique per user).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from layers.access.policy import Forbidden

MAX_KEY_LENGTH = 100


@dataclass(frozen=True)
class Keyed:
    """A table whose rows a client creates with an idempotency key."""

    table: str
    owner: str  # the column holding the caller's name
    key: str = "key"


CASES = Keyed("cases", "reported_by", "idempotency_key")
VISITS = Keyed("visits", "recorded_by")
PATROLS = Keyed("patrols", "worker")
TASKS = Keyed("tasks", "created_by")
TASK_STEPS = Keyed("grid_task_events", "actor")


class KeyOfAnotherCaller(Forbidden):
    code = "idempotency_key_taken"


def replayed(session: Session, kind: Keyed, key: str | None, caller: str) -> int | None:
    """The id of the row ``caller`` made with ``key`` before, None if the key is new (or none
    was sent); KeyOfAnotherCaller if someone else made it."""
    if not key:
        return None
    row = session.execute(text(f"SELECT id, {kind.owner} AS owner FROM {kind.table} "
                               f"WHERE {kind.key} = :key"), {"key": key}).one_or_none()
    if row is None:
        return None
    if row.owner != caller:
        raise KeyOfAnotherCaller("this Idempotency-Key belongs to another caller's request: "
                                 "send a new key (a random UUID) with each new request",
                                 zh="该幂等键已被其他账号使用，请为新的请求生成新的键")
    return row.id


def insert_once(session: Session, kind: Keyed, key: str | None, caller: str,
                insert: Callable[[], int]) -> tuple[int, bool]:
    """(the row's id, whether it is new): ``insert()`` runs in a savepoint unless the caller's
    key was seen; if a concurrent attempt with the key wins the race, its row is answered."""
    found = replayed(session, kind, key, caller)
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            return insert(), True
    except IntegrityError:
        found = replayed(session, kind, key, caller)
        if found is None:  # not the key's index: a real integrity error
            raise
        return found, False
