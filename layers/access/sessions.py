"""Page sign-ins kept on the server (the staff maps, the worker's phone page).

A browser cannot send an ``Authorization`` header with a page load, so the pages sign in once and
keep a cookie. The cookie holds a random 256-bit **session id**, never the credential: a stolen
cookie is worth one session, which ends when it expires (``session_hours``), when its user signs
out, or when the credential it was made with is disabled, expires or is rotated. Only the
SHA-256 of the id is stored (``web_sessions``), as for tokens.

Each sign-in makes a new id (a session id planted before the sign-in is never promoted: no
fixation), and the sign-out revokes the row, not only the cookie. A revocation fires the users
table's NOTIFY (migration 0012), so every API process forgets the sign-ins it holds in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from layers.access.credentials import Credential
from layers.storage.models import User, WebSession


def _hash(session_id: str) -> str:
    return hashlib.sha256(f"gridmap-session:{session_id}".encode()).hexdigest()


def cache_key(session_id: str) -> str:
    """What the process's credential cache keeps a session under (never a token's key)."""
    return f"session:{session_id}"


def csrf_of(session_id: str) -> str:
    """The CSRF token of a signed-in page: derived from the session id, which no script and no
    other site can read (HttpOnly, SameSite=Strict), so only our own page knows it."""
    return hashlib.sha256(f"gridmap-csrf:{session_id}".encode()).hexdigest()[:32]


def start(session: Session, user: User, *, now: dt.datetime, hours: float,
          client: str | None = None) -> str:
    """A new session for ``user`` (whose credential was just checked); its id, for the cookie.
    The user's expired sessions are cleared on the way."""
    session_id = secrets.token_urlsafe(32)
    session.execute(text("DELETE FROM web_sessions WHERE user_id = :u AND expires_at <= :now"),
                    {"u": user.id, "now": now})
    session.add(WebSession(id_hash=_hash(session_id), user_id=user.id, token_hash=user.token_hash,
                           created_at=now, expires_at=now + dt.timedelta(hours=hours),
                           client=(client or "")[:64] or None))
    session.flush()
    return session_id


def credential(session: Session, session_id: str, *, now: dt.datetime) -> Credential | None:
    """The credential a session stands for, or None when it is unknown, expired, signed out or
    revoked, or its user's credential is disabled, expired or rotated since the sign-in."""
    row = session.execute(text("""
        SELECT s.expires_at AS session_expires, u.id
        FROM web_sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id_hash = :h AND s.revoked_at IS NULL AND s.expires_at > :now
          AND s.token_hash = u.token_hash"""), {"h": _hash(session_id), "now": now}).one_or_none()
    if row is None:
        return None
    user = session.get_one(User, row.id)  # the user just joined
    found = Credential.of(user)
    expires = min(filter(None, (found.expires_at, row.session_expires)))
    return Credential(found.name, found.role, found.scope_code, found.worker_code,
                      found.department, found.disabled, expires)


def end(session: Session, session_id: str, *, now: dt.datetime) -> bool:
    """Sign out: the session stops working everywhere. False if there was none to end."""
    done = session.execute(text(
        "UPDATE web_sessions SET revoked_at = :now WHERE id_hash = :h AND revoked_at IS NULL"),
        {"h": _hash(session_id), "now": now})
    return cast("CursorResult[Any]", done).rowcount > 0  # (SQLAlchemy types text() as Result)
