"""A few asynchronous read connections for the hot read paths that run on the event loop.

SQLAlchemy's pool is synchronous: every read costs a hop to a thread, a ping when the connection
is checked out, and BEGIN/ROLLBACK around the query — five wake-ups for one SELECT. An OGC client
paging by key asks thousands of times in a row, each a single SELECT: these connections are
autocommit (one statement, one snapshot), prepared statements are kept per connection, and a
connection that fails is dropped, never reused (the caller then takes the ordinary path).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import psycopg
from sqlalchemy import make_url


class AsyncReadPool:
    def __init__(self, url: str, size: int = 4, *, statement_timeout_ms: int | None = None):
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.size = size
        # the same bound as the routed request's (layers/limits.py)
        self.options = (f"-c statement_timeout={int(statement_timeout_ms)}"
                        if statement_timeout_ms else None)
        self._free: list[psycopg.AsyncConnection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @asynccontextmanager
    async def connection(self):
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # connections belong to the loop that opened them
            self._free, self._loop = [], loop
        conn = self._free.pop() if self._free else await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, prepare_threshold=0, connect_timeout=5,
            **({"options": self.options} if self.options else {}))
        try:
            yield conn
        except BaseException:
            await conn.close()
            raise
        if conn.closed or len(self._free) >= self.size:
            await conn.close()
        else:
            self._free.append(conn)

    async def close(self) -> None:
        free, self._free = self._free, []
        for conn in free:
            await conn.close()
