"""API credentials. Tokens are 256-bit random strings; we keep only their SHA-256.

A slow password hash (bcrypt, argon2) protects low-entropy secrets people choose; these tokens are
machine-generated with 256 bits of entropy, so one SHA-256 is as safe and keeps every request fast.

A credential expires (``token_days`` after it is made or rotated, from settings), can be disabled
at once, and can be rotated: a new token replaces the old one, which stops working immediately.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from layers import clock
from layers.boundaries import generations
from layers.errors import DomainError
from layers.storage.models import Area, User, UserRole

TOKEN_PREFIX = "gm_"
AREA_CODE = re.compile(r"\d{6}(\d{3}){0,2}(\d{2,3})?")


class UserError(DomainError, ValueError):
    code = "invalid_user"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry(now: dt.datetime, days: int | None) -> dt.datetime | None:
    return now + dt.timedelta(days=days) if days else None


def check_scope(session: Session, scope_code: str) -> None:
    """A scope must be a national code of an area that exists (in the active generation)."""
    if not AREA_CODE.fullmatch(scope_code):
        raise UserError(f"scope {scope_code!r} is not a national area code (6, 9, 12 or 14–15 digits)")
    gen = generations.active(session)
    exists = gen is not None and session.scalar(
        select(Area.id).where(Area.generation_id == gen.id, Area.code == scope_code)) is not None
    if not exists:
        raise UserError(f"no area {scope_code} exists: a scope must be a district, street, "
                        "community or grid code (see `gridmap areas show CODE`)")


def add(session: Session, name: str, role: str, scope_code: str | None = None, *,
        days: int | None = None, now: dt.datetime | None = None, worker: str | None = None,
        department: str | None = None) -> tuple[User, str]:
    """Create a user and return it with its token (shown once, never stored in clear). A
    worker's credential may be tied to the worker (``worker``: its code): its scope is then the
    worker's grid; a department's names the department it speaks for."""
    try:
        role_value = UserRole(role)
    except ValueError:
        roles = ", ".join(r.value for r in UserRole if r != UserRole.PUBLIC)
        raise UserError(f"unknown role {role!r}: use one of {roles}") from None
    if role_value == UserRole.PUBLIC:
        raise UserError("'public' needs no credential; choose worker, dispatcher, planner, "
                        "department or admin")
    if worker is not None:
        if role_value != UserRole.WORKER:
            raise UserError("--worker ties a worker's credential: use it with --role worker")
        scope_code = _worker_scope(session, worker, scope_code)
    elif role_value == UserRole.WORKER and scope_code is None:
        # a worker reads ID and phone numbers in clear within their scope: never by default for
        # the whole district
        raise UserError("a worker's credential needs --worker CODE (their grid) or --scope AREA; "
                        "a worker for the whole district reads every number in the register in "
                        "clear — give --scope with the district's code if that is meant")
    if role_value == UserRole.DEPARTMENT:
        department = (department or "").strip()
        if not department or len(department) > 100:
            raise UserError("a department credential needs --department, e.g. 生态环境局")
    elif department is not None:
        raise UserError("--department is for --role department")
    if scope_code is not None:
        check_scope(session, scope_code)
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise UserError(f"a user named {name!r} exists already")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now or clock.now()
    user = User(name=name, role=role_value, scope_code=scope_code, token_hash=hash_token(token),
                expires_at=_expiry(now, days), worker_code=worker, department=department)
    session.add(user)
    session.flush()
    return user, token


def _worker_scope(session: Session, worker: str, scope_code: str | None) -> str:
    """The scope of a worker's own credential: the grid they are responsible for (their first,
    by code, when they cover several as 专职/兼职); a --scope given must be one of their grids."""
    grids = session.execute(text("""
        SELECT wa.grid_code FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
        WHERE w.code = :w ORDER BY wa.role IN ('full_time', 'part_time') DESC, wa.grid_code"""),
        {"w": worker}).scalars().all()
    if not grids:
        known = session.execute(text("SELECT 1 FROM workers WHERE code = :w"), {"w": worker}).first()
        raise UserError(f"worker {worker} covers no grid yet" if known else
                        f"no worker {worker}: see the workers layer (gridmap areas show GRID)")
    if scope_code is not None and scope_code not in grids:
        raise UserError(f"worker {worker} covers {', '.join(grids)}, not {scope_code}")
    return scope_code or grids[0]


def by_token(session: Session, token: str, *, now: dt.datetime | None = None) -> User | None:
    """The user a token belongs to, unless it is unknown, disabled or expired."""
    user = session.scalars(select(User).where(User.token_hash == hash_token(token))).one_or_none()
    if user is None or user.disabled_at is not None:
        return None
    if user.expires_at is not None and user.expires_at <= (now or clock.now()):
        return None
    return user


def named(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise UserError(f"no user named {name!r}: see `gridmap user list`")
    return user


def list_all(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def disable(session: Session, name: str, *, now: dt.datetime | None = None) -> User:
    """Stop a credential now, and end its page sessions (enabling it again does not revive
    them: the user signs in anew)."""
    user = named(session, name)
    user.disabled_at = user.disabled_at or now or clock.now()
    _end_sessions(session, user, user.disabled_at)
    return user


def _end_sessions(session: Session, user: User, now: dt.datetime) -> None:
    session.execute(text("UPDATE web_sessions SET revoked_at = :now "
                         "WHERE user_id = :u AND revoked_at IS NULL"), {"u": user.id, "now": now})


def enable(session: Session, name: str) -> User:
    user = named(session, name)
    user.disabled_at = None
    return user


def rotate(session: Session, name: str, *, days: int | None = None,
           now: dt.datetime | None = None) -> tuple[User, str]:
    """A new token for the user; the old one stops working now, and so do the page sessions
    signed in with it."""
    user = named(session, name)
    now = now or clock.now()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    user.token_hash, user.rotated_at = hash_token(token), now
    user.expires_at = _expiry(now, days)
    _end_sessions(session, user, now)
    return user, token


def expire(session: Session, name: str, when: dt.datetime) -> User:
    user = named(session, name)
    user.expires_at = when
    return user


def status(user: User, now: dt.datetime) -> str:
    if user.disabled_at is not None:
        return "disabled"
    if user.expires_at is not None and user.expires_at <= now:
        return "expired"
    return "active"
