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


def test_the_app_has_one_listener_that_the_locator_registry_subscribes_to(db_url):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(url=db_url)) as client:
        state = client.app.state
        assert state.locators.listener is state.listener
        assert state.listener.rebuild == state.locators.refresh
        assert state.listener.watchers[NOTIFY_CHANNEL] == [state.credentials.clear]
