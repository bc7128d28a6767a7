"""OGC pages read ahead (layers/maps/read_ahead.py): every page is what ``LIMIT limit + 1`` after
its key would have answered, a walk costs a few reads, and a block serves only its owner, only
while fresh. The rows here are a list in code order, as the query returns them; the fast path
over PostGIS is tests/test_ogc_fastpath.py."""

import asyncio
import bisect

import pytest

from layers.maps.features import Page
from layers.maps.read_ahead import ReadAhead

ROWS = [(f"B{i:05d}", f'{{"id": "B{i:05d}"}}') for i in range(1, 2501)]
OWNER = ("buildings", "dispatcher", None)


def reader(rows: list, after: str):
    """``read(n)`` of the rows after ``after``: the first n + 1, as the query reads them."""
    def read(n: int):
        start = bisect.bisect_right([code for code, _ in rows], after)

        async def rows_after():
            return rows[start:start + n + 1]
        return rows_after()
    return read


def expected(rows: list, after: str, limit: int) -> Page:
    start = bisect.bisect_right([code for code, _ in rows], after)
    taken = rows[start:start + limit + 1]
    more = len(taken) > limit
    taken = taken[:limit]
    return Page(None, [t for _c, t in taken], taken[-1][0] if more and taken else None)


def walk(ahead: ReadAhead, rows: list, limit: int, owner=OWNER, first: str = "B00000") -> list:
    pages, after = [], first
    while after is not None:
        page = asyncio.run(ahead.page(owner, after, limit, reader(rows, after)))
        assert page == expected(rows, after, limit)
        pages.append(page)
        after = page.next_after
    return pages


@pytest.mark.parametrize("limit", [1, 7, 10, 99, 100, 101, 999, 1000, 2499, 2500, 10_000])
def test_every_page_of_a_walk_is_what_the_query_answers_at_its_key(limit):
    pages = walk(ReadAhead(), ROWS, limit)
    assert sum(len(p.features) for p in pages) == len(ROWS)
    assert pages[-1].next_after is None


def test_a_walk_at_gdal_s_page_size_reads_blocks_growing_to_a_thousand_rows():
    ahead = ReadAhead()
    pages = walk(ahead, ROWS, 10)
    assert len(pages) == 250
    assert ahead.reads == 5  # 100, 200, 400, 800 and 1,000 rows, not 250 queries


def test_a_page_asked_again_is_answered_from_the_same_block():
    ahead = ReadAhead()
    for _ in range(3):
        page = asyncio.run(ahead.page(OWNER, "B00040", 10, reader(ROWS, "B00040")))
        assert page == expected(ROWS, "B00040", 10)
    assert ahead.reads == 1


def test_a_block_serves_no_other_collection_role_or_scope():
    ahead = ReadAhead()
    walk(ahead, ROWS[:50], 10)
    scoped = ROWS[::7]  # the rows another scope's query would choose
    for owner in (("buildings", "worker", "370811008"), ("sites", "dispatcher", None)):
        page = asyncio.run(ahead.page(owner, "B00000", 10, reader(scoped, "B00000")))
        assert page == expected(scoped, "B00000", 10)
    assert ahead.reads == 3


def test_after_a_change_is_heard_the_next_page_is_read_anew():
    ahead = ReadAhead()
    first = asyncio.run(ahead.page(OWNER, "B00000", 10, reader(ROWS, "B00000")))
    changed = [(code, text.replace("}", ', "floors": 9}')) for code, text in ROWS]
    ahead.clear()  # NOTIFY gridmap_data: an import committed
    page = asyncio.run(ahead.page(OWNER, first.next_after, 10, reader(changed, first.next_after)))
    assert page == expected(changed, first.next_after, 10)
    assert ahead.reads == 2


def test_a_change_heard_while_a_block_is_read_leaves_that_block_unused():
    ahead = ReadAhead()

    def read_during_a_change(n: int):
        ahead.clear()  # heard by the listening thread while the query ran
        return reader(ROWS, "B00000")(n)

    asyncio.run(ahead.page(OWNER, "B00000", 10, read_during_a_change))
    asyncio.run(ahead.page(OWNER, "B00010", 10, reader(ROWS, "B00010")))
    assert ahead.reads == 2


def test_a_block_older_than_its_lifetime_is_read_anew():
    now = [0.0]
    ahead = ReadAhead(ttl_s=5.0, clock=lambda: now[0])
    asyncio.run(ahead.page(OWNER, "B00000", 10, reader(ROWS, "B00000")))
    now[0] = 4.9
    asyncio.run(ahead.page(OWNER, "B00010", 10, reader(ROWS, "B00010")))
    assert ahead.reads == 1
    now[0] = 5.1
    asyncio.run(ahead.page(OWNER, "B00020", 10, reader(ROWS, "B00020")))
    assert ahead.reads == 2


def test_memory_is_bounded_by_the_number_of_blocks():
    ahead = ReadAhead(blocks=4)
    for i in range(10):  # ten clients, each one page in a different place
        after = ROWS[i * 200][0]
        asyncio.run(ahead.page(OWNER, after, 10, reader(ROWS, after)))
    assert len(ahead._blocks) == 4
    asyncio.run(ahead.page(OWNER, ROWS[0][0], 10, reader(ROWS, ROWS[0][0])))  # dropped: read
    assert ahead.reads == 11


def test_a_client_asking_one_feature_reads_ten_rows_not_a_hundred():
    ahead = ReadAhead()
    asked = []

    def read(n: int):
        asked.append(n)
        return reader(ROWS, "B00000")(n)

    assert asyncio.run(ahead.page(OWNER, "B00000", 1, read)) == expected(ROWS, "B00000", 1)
    assert asked == [10]


def test_the_blocks_are_dropped_again_after_the_rebuild_that_follows_a_change(db_url):
    """A read replica may replay an import after its NOTIFY arrived: the locator's rebuild waits
    for it (caught_up), and the read-ahead forgets what it read meanwhile once that is done."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(url=db_url)) as client:
        state = client.app.state
        assert state.read_ahead.clear in state.locators.on_refresh
