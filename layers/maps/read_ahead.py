"""Pages of a collection read ahead for a client that walks it by key, as GDAL does.

GDAL 3.6's OAPIF driver asks 10 features a page whatever the server declares (its ``PAGE_SIZE``
open option, default 10) and follows each page's ``next`` link: copying the demo's 22,463
buildings is 2,247 requests in a row. Answered one query per page, a quarter of the time the
server and PostgreSQL spent per page was that query's round trip — the query itself, psycopg's
work around it and two processes woken for it, each waiting for a core on a busy machine.
Here a page after a key reads a block of rows ahead in one query and keeps it; the client's next
requests, whose keys fall inside the block, are answered from it. A walk that reaches the end of
its block reads the next one twice as large, as an operating system reads a file ahead: from
100 rows (a client asking one page reads little more than it asked) to 1,000 (a whole layer in
a few dozen queries instead of thousands).

What a page answers is what the query would have answered when the block was read:

- **Fresh**: a block serves for ``ttl_s`` seconds after it was read (5 s; GDAL goes through a
  1,000-row block in a fraction of a second), and every block is dropped when PostgreSQL says the
  data changed (``NOTIFY gridmap_data`` on an import, ``gridmap_generation`` on a publish:
  ``clear``, from the listening thread), and again after the locator's rebuild that follows
  (which waits for a read replica to replay the change first: api/app.py). Paging by key was
  never one snapshot across pages; a page may now be read up to ``ttl_s`` before its request, as
  a replica lags its primary.
- **Scoped**: a block belongs to the collection, role and scope it was read for (``owner``) and
  serves no other; the policy's checks still run on every request, before the block is looked
  up (api/fastpath.py).
- **Exact**: the rows come from the same SQL, in code order, one row more than the block keeps
  telling whether more follow, so the page, its ``next`` key and the end of the collection are
  those of a query with ``LIMIT limit + 1`` (tests/test_ogc_fastpath.py compares the bytes).
- **Bounded**: at most ``blocks`` blocks per process (16 × 1,001 features, ~8 MB for buildings),
  the oldest dropped first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable

from layers.maps.features import Page

FIRST_ROWS = 100  # a block read for a key that continues no earlier block
MOST_ROWS = 1000  # the largest block a walk grows to
TTL_S = 5.0
BLOCKS = 16


class _Block:
    __slots__ = ("codes", "complete", "epoch", "features", "owner", "position", "read_at", "size")

    def __init__(self, owner: Hashable, after: str, rows: list, size: int, epoch: int,
                 read_at: float):
        self.owner, self.size, self.epoch, self.read_at = owner, size, epoch, read_at
        self.codes = [r[0] for r in rows]
        self.features = [r[1] for r in rows]
        self.complete = len(rows) <= size  # no row follows the last one read
        # a key → where the rows after it start: the key the block was read after, and each code
        self.position = {after: 0} | {code: i + 1 for i, code in enumerate(self.codes)}

    def page(self, start: int, limit: int) -> Page | None:
        """The ``limit`` rows from ``start``, or None when the block cannot tell what follows."""
        end = start + limit
        if end < len(self.codes):  # a row follows the page: there is a next page
            return Page(None, self.features[start:end], self.codes[end - 1])
        if self.complete:
            return Page(None, self.features[start:], None)
        return None


class ReadAhead:
    def __init__(self, *, first: int = FIRST_ROWS, most: int = MOST_ROWS, ttl_s: float = TTL_S,
                 blocks: int = BLOCKS, clock: Callable[[], float] = time.monotonic):
        self.first, self.most, self.ttl_s, self.blocks = first, most, ttl_s, blocks
        self._clock = clock
        self._blocks: list[_Block] = []  # oldest first; touched on the event loop only
        self._epoch = 0  # blocks read in an earlier epoch are stale
        self.reads = 0  # blocks read from the database, for tests and benchmarks

    def clear(self) -> None:
        """Forget every block: the data changed. Safe from any thread (one increment)."""
        self._epoch += 1

    async def page(self, owner: Hashable, after: str, limit: int,
                   read: Callable[[int], Awaitable[list]]) -> Page:
        """The page of ``limit`` rows after the key ``after`` for ``owner``: from a block kept,
        or from a block of ``n`` rows read now by ``read(n)`` — the first ``n + 1`` rows after the
        key (one more tells whether more follow), in code order, as (code, feature text) pairs."""
        now, grown_from = self._clock(), 0
        for block in reversed(self._blocks):
            start = block.position.get(after) if block.owner == owner else None
            if start is None:
                continue
            if block.epoch == self._epoch and now - block.read_at <= self.ttl_s:
                found = block.page(start, limit)
                if found is not None:
                    return found
            grown_from = block.size  # the walk reached the end of this block: read more
            break
        # a first block of ten pages at most: a client asking one feature reads little more
        size = max(limit, min(self.most, 2 * grown_from if grown_from else min(self.first,
                                                                                10 * limit)))
        epoch = self._epoch  # taken before the read: a change heard during it makes it stale
        block = _Block(owner, after, await read(size), size, epoch, now)
        self.reads += 1
        if limit < self.most:  # a page as large as a block leaves nothing worth keeping
            self._keep(block, now)
        found = block.page(0, limit)
        assert found is not None  # size ≥ limit and one row more was asked for
        return found

    def _keep(self, block: _Block, now: float) -> None:
        kept = [b for b in self._blocks
                if b.epoch == self._epoch and now - b.read_at <= self.ttl_s]
        self._blocks = [*kept[-(self.blocks - 1):], block] if self.blocks > 1 else [block]
