"""Rasa's event tables under privacy requests: the broker's newest row keeps its id."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.insight.rasa_events import ERASED_SENDER, RasaEventTable, unix_seconds

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _broker(path: Path, events: list[tuple[str, float]]) -> None:
    """Rasa's SQL broker table (as rasa.core.brokers.sql makes it), with these events."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE events (id INTEGER NOT NULL PRIMARY KEY, "
                           "sender_id VARCHAR(255), data TEXT)")
        for sender, moment in events:
            connection.execute("INSERT INTO events (sender_id, data) VALUES (?, ?)", (sender, json.dumps(
                {"sender_id": sender, "event": "user", "text": "hi", "timestamp": moment})))


def _rows(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT id, sender_id FROM events ORDER BY id").fetchall()


def _publish(path: Path, sender: str) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("INSERT INTO events (sender_id, data) VALUES (?, '{}')",
                                  (sender,)).lastrowid


def test_purging_a_tailed_table_keeps_its_newest_row_so_ids_are_never_reused(tmp_path):
    path = tmp_path / "events.db"
    old = unix_seconds(NOW - timedelta(days=500))
    _broker(path, [("tg-1", old), ("tg-2", old + 1), ("tg-3", old + 2)])
    broker = RasaEventTable.open("broker", str(path), tailed=True)
    try:
        assert broker.delete_older_than(NOW - timedelta(days=365)) == 2
    finally:
        broker.close()
    assert _rows(path) == [(3, "tg-3")]
    assert _publish(path, "tg-4") == 4  # a reader past id 3 sees it


def test_erasing_the_newest_row_leaves_a_placeholder_in_its_place(tmp_path):
    path = tmp_path / "events.db"
    moment = unix_seconds(NOW)
    _broker(path, [("tg-1", moment), ("tg-2", moment + 1), ("tg-1", moment + 2)])
    broker = RasaEventTable.open("broker", str(path), tailed=True)
    try:
        assert broker.delete_conversations(["tg-1"]) == 2
        assert broker.events_of(["tg-1"]) == {"tg-1": []}
        assert broker.events_of([ERASED_SENDER])[ERASED_SENDER] == [
            {"event": "erased", "timestamp": moment + 2}]
        assert broker.delete_conversations(["tg-1"]) == 0
    finally:
        broker.close()
    assert _rows(path) == [(2, "tg-2"), (3, ERASED_SENDER)]
    assert _publish(path, "tg-5") == 4


def test_a_table_that_is_not_tailed_is_simply_deleted_from(tmp_path):
    path = tmp_path / "tracker.db"
    moment = unix_seconds(NOW)
    _broker(path, [("tg-1", moment), ("tg-1", moment + 1)])
    table = RasaEventTable.open("tracker store", str(path))
    try:
        assert table.delete_conversations(["tg-1"]) == 2
    finally:
        table.close()
    assert _rows(path) == []


def test_a_missing_file_holds_nothing_and_is_not_created(tmp_path):
    path = tmp_path / "never.db"
    table = RasaEventTable.open("tracker store", str(path))
    assert table.delete_conversations(["tg-1"]) == 0
    assert table.delete_older_than(NOW) == 0
    assert table.events_of(["tg-1"]) == {"tg-1": []}
    assert table.senders_verified_as("C-1") == set()
    assert not path.exists()


async def test_a_long_conversations_snapshot_goes_with_its_events(tmp_path):
    """The windowed tracker store keeps slot values in a snapshot beside `events`: erasing a
    conversation erases it, and purging the event it was taken after drops it."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered

    from bot.dialogue.tracker_window import WindowedSQLTrackerStore
    from tests.support import PROJECT

    path = tmp_path / "tracker.db"
    store = WindowedSQLTrackerStore(Domain.load(str(PROJECT / "domain.yml")), dialect="sqlite",
                                    db=str(path), window_events=50)
    for sender in ("rest-a", "rest-b"):
        for number in range(60):
            tracker = await store.get_or_create_tracker(sender)
            for event in (UserUttered(f"hi {number}"), SlotSet("customer_id", "C-1"),
                          ActionExecuted("action_listen")):
                tracker.update(event)
            await store.save(tracker)
    store.engine.dispose()

    def snapshot_senders() -> list[tuple[str]]:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT sender_id FROM rapport_tracker_snapshots "
                                      "ORDER BY sender_id").fetchall()

    assert snapshot_senders() == [("rest-a",), ("rest-b",)]
    tracker_store = RasaEventTable.open("tracker store", str(path))
    try:
        assert tracker_store.delete_conversations(["rest-a"]) == 181
        assert snapshot_senders() == [("rest-b",)]
        assert tracker_store.delete_older_than(datetime.now(timezone.utc)
                                               + timedelta(days=1)) == 181
        assert snapshot_senders() == []
    finally:
        tracker_store.close()
