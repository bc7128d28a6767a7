"""The base of everything the domain refuses.

Domain code raises these and knows nothing of HTTP; ``api/errors.py`` maps each class to a status
and a Chinese message in one table, and the CLI prints the English message. ``code`` is the stable,
machine-readable name clients rely on; a raise may pass a more specific ``zh`` (what a resident or
dispatcher reads) and ``extra`` fields that go into the error body (e.g. the nearest grid).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, zh: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.zh = zh
        self.headers = headers
        self.extra = extra


class WriteConflict(DomainError):
    """A unit of work that could not be committed: another write got there first (a unique or
    foreign key checked at commit). Nothing of it was saved; sending it again is safe."""

    code = "write_conflict"
