"""A tracker store that fails refuses the message; Rasa would answer from an empty one.

A real Rasa `Agent` on a real `SQLTrackerStore` (SQLite); the store "goes down" by its events
table going away and "comes back" by its return.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered

from bot.errors import Unavailable
from bot.ops import tracker_store_guard
from bot.ops.tracker_store_guard import TrackerStoreUnavailable


@pytest.fixture
def original_create():
    saved = Agent.__dict__["_create_tracker_store"]
    yield
    Agent._create_tracker_store = saved


def set_events_table(database: Path, present: bool) -> None:
    names = ("events", "events_gone") if not present else ("events_gone", "events")
    with sqlite3.connect(database) as connection:
        connection.execute(f"ALTER TABLE {names[0]} RENAME TO {names[1]}")


async def test_a_failing_tracker_store_refuses_instead_of_forgetting(
        tmp_path: Path, original_create, caplog) -> None:
    tracker_store_guard.install()
    tracker_store_guard.install()  # twice: still one wrapper
    database = tmp_path / "tracker.db"
    domain = Domain.empty()
    agent = Agent(domain=domain, tracker_store=SQLTrackerStore(
        domain, dialect="sqlite", db=str(database)))
    store = agent.tracker_store
    tracker = await store.get_or_create_tracker("customer-1")
    tracker.update(UserUttered("where is my order", message_id="m1"))
    await store.save(tracker)

    set_events_table(database, present=False)
    with pytest.raises(TrackerStoreUnavailable, match="tracker store: OperationalError"):
        await store.retrieve("customer-1")
    tracker.update(UserUttered("hello?", message_id="m2"))
    with pytest.raises(TrackerStoreUnavailable):
        await store.save(tracker)
    assert store._fallback_tracker_store is None  # nothing kept in memory behind its back
    assert "refused rather than answered from an empty conversation" in caplog.text

    set_events_table(database, present=True)
    back = await store.retrieve("customer-1")
    assert [event.message_id for event in back.events if isinstance(event, UserUttered)] == ["m1"]
    assert issubclass(TrackerStoreUnavailable, Unavailable)


async def test_without_the_guard_rasa_falls_back_to_an_empty_conversation(
        tmp_path: Path) -> None:
    """Why the guard exists: Rasa's own wrapper answers a failure with a fresh tracker."""
    domain = Domain.empty()
    database = tmp_path / "tracker.db"
    store = FailSafeTrackerStore(SQLTrackerStore(domain, dialect="sqlite", db=str(database)))
    set_events_table(database, present=False)

    assert await store.retrieve("customer-1") is None  # a stranger, every message


def test_a_tracker_store_class_that_cannot_be_imported_stops_the_start() -> None:
    """Rasa would warn and keep every conversation in memory instead."""
    with pytest.raises(TrackerStoreUnavailable, match="bot.dialogue.no_such.Store.*in-memory"):
        tracker_store_guard.check_tracker_store_class("bot.dialogue.no_such.Store")
    for fine in ("SQL", "sql", None, "bot.dialogue.tracker_window.WindowedSQLTrackerStore"):
        tracker_store_guard.check_tracker_store_class(fine)
