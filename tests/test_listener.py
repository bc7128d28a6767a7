"""The process's one LISTEN connection (layers/storage/listener.py) belongs to no concern: the
credentials, the desk's feed and the locator registry each subscribe to it."""

from __future__ import annotations

import threading

from sqlalchemy import text

from layers.access.credentials import NOTIFY_CHANNEL
from layers.storage.listener import ChangeListener


def test_a_watcher_hears_its_channel_on_a_listener_without_any_locator(engine):
    listener = ChangeListener(engine)
    heard = threading.Event()
    calls = []
    listener.watch(NOTIFY_CHANNEL, lambda: (calls.append(1), heard.set()))
    listener.start()
    try:
        assert listener.wait(timeout=60)
        # told once on connecting (what it keeps may be stale); then the NOTIFY itself
        assert heard.wait(60)
        heard.clear()
        told = len(calls)
        with engine.begin() as conn:
            conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
        assert heard.wait(60) and len(calls) == told + 1
    finally:
        listener.stop()


def test_a_watcher_of_a_rebuild_channel_is_told_at_once_and_the_rebuild_still_runs(engine):
    listener = ChangeListener(engine)
    told, rebuilt = threading.Event(), threading.Event()
    listener.watch("gridmap_data", told.set)
    listener.rebuild_on(("gridmap_data",), rebuilt.set)
    listener.start()
    try:
        assert listener.wait(timeout=60) and told.wait(60)  # told on connecting
        told.clear()  # (a first connection asks for no rebuild: the owner builds at start)
        with engine.begin() as conn:
            conn.execute(text("NOTIFY gridmap_data"))
        assert told.wait(60) and rebuilt.wait(60)
    finally:
        listener.stop()


def test_the_app_has_one_listener_that_the_locator_registry_subscribes_to(db_url):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(url=db_url)) as client:
        state = client.app.state
        assert state.locators.listener is state.listener
        assert state.listener.rebuild == state.locators.refresh
        assert state.listener.watchers[NOTIFY_CHANNEL] == [state.credentials.clear]
