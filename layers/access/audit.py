"""The audit log: every write and every read of personal data — who, what, when, from where.

Entries are added in the caller's transaction, so a write and its audit entry are committed
together or not at all; a read is audited even when it finds nothing. The log is append-only for
gridmap (no code path updates or deletes it).
"""

from __future__ import annotations

import getpass

from sqlalchemy.orm import Session

from layers.access.policy import Principal
from layers.storage.models import AuditEntry, UserRole


def record(session: Session, by: Principal, action: str, target: str | None = None,
           **detail) -> None:
    session.add(AuditEntry(actor=by.name, role=by.role.value, action=action,
                           target=(target or "")[:200] or None, client=by.client,
                           detail={k: v for k, v in detail.items() if v is not None}))


def cli_principal() -> Principal:
    """Who acts from the command line: the operating-system user, with the admin's rights."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Principal(name=f"cli:{user}", role=UserRole.ADMIN, scope_code=None, client="local")
