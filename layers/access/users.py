"""API credentials. Tokens are 256-bit random strings; we keep only their SHA-256.

A slow password hash (bcrypt, argon2) protects low-entropy secrets people choose; these tokens are
machine-generated with 256 bits of entropy, so one SHA-256 is as safe and keeps every request fast.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from layers.storage.models import User, UserRole

TOKEN_PREFIX = "gm_"


class UserError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add(session: Session, name: str, role: str, scope_code: str | None = None) -> tuple[User, str]:
    """Create a user and return it with its token (shown once, never stored in clear)."""
    try:
        role_value = UserRole(role)
    except ValueError:
        roles = ", ".join(r.value for r in UserRole if r != UserRole.PUBLIC)
        raise UserError(f"unknown role {role!r}: use one of {roles}") from None
    if role_value == UserRole.PUBLIC:
        raise UserError("'public' needs no credential; choose worker, dispatcher, planner or admin")
    if scope_code is not None and not re.fullmatch(r"\d{6}(\d{3}){0,2}(\d{2,3})?", scope_code):
        raise UserError(f"scope {scope_code!r} is not a national area code (6, 9, 12 or 14–15 digits)")
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise UserError(f"a user named {name!r} exists already")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    user = User(name=name, role=role_value, scope_code=scope_code, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token


def by_token(session: Session, token: str) -> User | None:
    user = session.scalars(select(User).where(User.token_hash == hash_token(token))).one_or_none()
    if user is None or user.disabled_at is not None:
        return None
    return user
