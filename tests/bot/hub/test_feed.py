"""The console's live feed: Rasa's event table in, handoff updates and subscriber messages out.

A real SQLite event table (the shape Rasa's SQL event broker writes) and a real handoff
store on SQLite; the feed is polled by hand, except in the one test of its loop.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from bot.handoff.states import ABANDONED, ASSIGNED, RESOLVED, WAITING
from bot.handoff.store import HandoffStore, NewHandoff
from bot.errors import StoreUnavailable
from bot.handoff.tables import open_database
from bot.hub import feed as feed_module
from bot.hub.feed import SUBSCRIBER_BACKLOG, EventFeed, Subscription, messages

T0 = 1_780_000_000.0  # a Rasa timestamp (seconds since the epoch)


class EventsTable:
    """Rasa's SQL event broker table: one JSON event per row, ids ascending."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection = sqlite3.connect(path)
        self.connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, "
                                "sender_id VARCHAR(255), data TEXT)")
        self.connection.commit()

    def add(self, sender: str, event: Any) -> int:
        data = event if isinstance(event, str) else json.dumps({"sender_id": sender, **event})
        cursor = self.connection.execute("INSERT INTO events (sender_id, data) VALUES (?, ?)",
                                         (sender, data))
        self.connection.commit()
        return int(cursor.lastrowid)

    def close(self) -> None:
        self.connection.close()


def user(text: str, at: float = T0, intent: str = "inform") -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[HandoffStore]:
    database = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    yield HandoffStore(database)
    await database.close()


@pytest.fixture
def table(tmp_path: Path) -> EventsTable:
    events = EventsTable(tmp_path / "events.db")
    yield events
    events.close()


@pytest.fixture
def feed(table: EventsTable, store: HandoffStore) -> EventFeed:
    return EventFeed(str(table.path), store)


async def open_handoff(store: HandoffStore, conversation: str = "c-1",
                       state: str = WAITING) -> str:
    handoff = await store.create(NewHandoff(conversation_id=conversation, channel="webchat",
                                            reason="customer asked for a person", state=state))
    return handoff.id


def drain(subscription: Subscription) -> list[dict[str, Any]]:
    found = []
    while not subscription.queue.empty():
        found.append(subscription.queue.get_nowait())
    return found


# -- reading the table ---------------------------------------------------------------------

async def test_the_feed_starts_after_the_events_already_there(table, feed):
    table.add("c-1", user("old news"))
    last = table.add("c-1", user("older news"))
    await feed.start_position()
    assert feed.cursor == last
    assert await feed.poll_once() == 0
    new = table.add("c-1", user("fresh"))
    assert await feed.poll_once() == 1
    assert feed.cursor == new
    assert await feed.poll_once() == 0


async def test_without_an_events_table_the_feed_waits_quietly(tmp_path, store):
    missing = EventFeed(str(tmp_path / "not-yet.db"), store)
    await missing.start_position()
    assert (missing.cursor, await missing.poll_once()) == (0, 0)
    sqlite3.connect(tmp_path / "empty.db").close()  # the file, but no table yet
    empty = EventFeed(str(tmp_path / "empty.db"), store)
    await empty.start_position()
    assert (empty.cursor, await empty.poll_once()) == (0, 0)


async def test_rows_that_are_not_json_objects_are_skipped_but_passed(table, feed):
    subscription = feed.subscribe("c-1")
    table.add("c-1", "{not json")
    table.add("c-1", json.dumps(["user", "hi"]))
    last = table.add("c-1", user("hello"))
    assert await feed.poll_once() == 3
    assert feed.cursor == last
    assert [m["event"]["text"] for m in drain(subscription)] == ["hello"]
    assert [event_id for event_id, _ in feed.replay("c-1", 0)] == [last]


async def test_a_poll_reads_at_most_one_batch(table, feed, monkeypatch):
    monkeypatch.setattr(feed_module, "BATCH", 2)
    ids = [table.add("c-1", user(f"message {n}")) for n in range(5)]
    assert [await feed.poll_once() for _ in range(4)] == [2, 2, 1, 0]
    assert feed.cursor == ids[-1]


# -- keeping handoffs current --------------------------------------------------------------

async def test_a_customers_message_is_noted_on_their_open_handoff(table, feed, store):
    handoff_id = await open_handoff(store)
    table.add("c-1", user("are you still there?", at=T0 + 5))
    table.add("c-2", user("someone else", at=T0 + 6))
    await feed.poll_once()
    handoff = await store.get(handoff_id)
    assert handoff.last_customer_text == "are you still there?"
    assert handoff.last_customer_at == datetime.fromtimestamp(T0 + 5, timezone.utc)
    assert handoff.state == WAITING


async def test_an_external_intent_is_not_the_customer_speaking(table, feed, store):
    handoff_id = await open_handoff(store)
    subscription = feed.subscribe("c-1")
    table.add("c-1", user("/EXTERNAL_handoff_resolved", intent="EXTERNAL_handoff_resolved"))
    await feed.poll_once()
    assert (await store.get(handoff_id)).last_customer_text is None
    assert [m["event"]["text"] for m in drain(subscription)] == ["/EXTERNAL_handoff_resolved"]


async def test_a_message_without_a_usable_timestamp_is_noted_at_read_time(table, feed, store):
    handoff_id = await open_handoff(store)
    before = datetime.now(timezone.utc)
    table.add("c-1", {"event": "user", "text": "hello?", "timestamp": "soon"})
    await feed.poll_once()
    handoff = await store.get(handoff_id)
    assert handoff.last_customer_text == "hello?"
    assert before <= handoff.last_customer_at <= datetime.now(timezone.utc)


async def test_a_rating_after_a_resolved_handoff_is_its_csat(table, feed, store):
    handoff_id = await open_handoff(store, state=ASSIGNED)
    await store.resolve(handoff_id, None, "refund sent")
    table.add("c-1", {"event": "slot", "name": "rating", "value": "four stars ⭐⭐⭐⭐"})
    await feed.poll_once()
    assert (await store.get(handoff_id)).csat == 4


@pytest.mark.parametrize("slot", [
    {"event": "slot", "name": "rating", "value": "great"},  # no clear number
    {"event": "slot", "name": "rating", "value": None},
    {"event": "slot", "name": "order_number", "value": "5"},  # not the rating
])
async def test_other_slots_leave_the_csat_alone(table, feed, store, slot):
    handoff_id = await open_handoff(store, state=ASSIGNED)
    await store.resolve(handoff_id, None, "refund sent")
    table.add("c-1", slot)
    await feed.poll_once()
    assert (await store.get(handoff_id)).csat is None


async def test_a_restart_abandons_the_open_handoff_without_a_hand_back(table, feed, store):
    handoff_id = await open_handoff(store)
    table.add("c-1", {"event": "restart", "timestamp": T0})
    table.add("c-1", {"event": "restart", "timestamp": T0 + 1})  # nothing left to abandon
    table.add("c-2", {"event": "restart", "timestamp": T0 + 2})  # never had one
    assert await feed.poll_once() == 3
    handoff = await store.get(handoff_id)
    assert (handoff.state, handoff.handback) == (ABANDONED, None)


async def test_a_restart_after_the_handoff_closed_changes_nothing(table, feed, store):
    handoff_id = await open_handoff(store, state=ASSIGNED)
    await store.resolve(handoff_id, None, "done")
    table.add("c-1", {"event": "restart", "timestamp": T0})
    await feed.poll_once()
    assert (await store.get(handoff_id)).state == RESOLVED


async def test_a_database_failure_is_logged_and_the_turn_still_published(tmp_path, table, caplog):
    (tmp_path / "a-directory").mkdir()  # a path SQLite cannot open as a database
    broken = HandoffStore(open_database(f"sqlite:///{tmp_path / 'a-directory'}"))
    feed = EventFeed(str(table.path), broken)
    subscription = feed.subscribe("c-1")
    event_id = table.add("c-1", user("hello"))
    with caplog.at_level("WARNING", logger="bot.hub.feed"):
        assert await feed.poll_once() == 1
    assert [m["event_id"] for m in drain(subscription)] == [event_id]
    with pytest.raises(StoreUnavailable) as failure:
        await broken.open_for("c-1")
    assert [r.getMessage() for r in caplog.records if r.name == "bot.hub.feed"] == [
        f"feed could not update handoffs for event {event_id}: {failure.value}"]
    await broken.db.close()


# -- subscribers ---------------------------------------------------------------------------

async def test_subscribers_get_the_turns_of_their_conversation_only(table, feed):
    mine, other, queue_only = feed.subscribe("c-1"), feed.subscribe("c-2"), feed.subscribe()
    shown = [
        user("hi"), {"event": "bot", "text": "Hello!"}, {"event": "pause"},
        {"event": "resume"}, {"event": "restart"}, {"event": "session_started"},
    ]
    hidden = [{"event": "action", "name": "action_listen"},
              {"event": "slot", "name": "order_number", "value": "RP-1"},
              {"event": "user_featurization"}]
    ids = [table.add("c-1", event) for event in [*shown, *hidden]]
    await feed.poll_once()
    got = drain(mine)
    assert [(m["type"], m["conversation_id"], m["event_id"], m["event"]["event"]) for m in got] \
        == [("turn", "c-1", event_id, event["event"]) for event_id, event in zip(ids, shown)]
    assert got[0]["event"] == {"sender_id": "c-1", **shown[0]}
    assert drain(other) == [] and drain(queue_only) == []


async def test_an_unsubscribed_stream_gets_nothing(table, feed):
    subscription = feed.subscribe("c-1")
    feed.unsubscribe(subscription)
    feed.unsubscribe(subscription)  # twice is fine
    table.add("c-1", user("hi"))
    await feed.poll_once()
    assert drain(subscription) == []


async def test_replay_gives_a_conversations_events_after_an_id(table, feed):
    first = table.add("c-1", user("one"))
    table.add("c-2", user("elsewhere"))
    second = table.add("c-1", {"event": "action", "name": "action_listen"})
    await feed.poll_once()
    assert [(i, e.get("text")) for i, e in feed.replay("c-1", 0)] == [(first, "one"),
                                                                     (second, None)]
    assert [i for i, _ in feed.replay("c-1", first)] == [second]
    assert feed.replay("c-3", 0) == []


async def test_the_queue_is_announced_to_everyone_when_it_changes(feed, store):
    mine, queue_only = feed.subscribe("c-1"), feed.subscribe()
    assert await feed.check_queue() is False  # empty, as at start
    handoff_id = await open_handoff(store, "c-9")
    assert await feed.check_queue() is True
    assert await feed.check_queue() is False  # no change since
    await store.abandon(handoff_id)
    assert await feed.check_queue() is True
    assert drain(mine) == drain(queue_only) == [{"type": "queue"}, {"type": "queue"}]


async def test_a_subscriber_that_falls_behind_is_marked_overflowed(table, feed):
    subscription = feed.subscribe("c-1")
    for n in range(SUBSCRIBER_BACKLOG + 1):
        table.add("c-1", user(f"message {n}"))
    await feed.poll_once()
    assert subscription.overflowed
    assert subscription.queue.qsize() == SUBSCRIBER_BACKLOG


async def test_close_all_says_bye_to_every_stream(feed):
    streams = [feed.subscribe("c-1"), feed.subscribe()]
    feed.close_all()
    assert [drain(s) for s in streams] == [[{"type": "bye"}], [{"type": "bye"}]]


async def test_messages_yield_none_while_quiet_then_the_message(feed):
    subscription = feed.subscribe("c-1")
    stream = messages(subscription, timeout=0.05)
    assert await stream.__anext__() is None
    subscription.offer({"type": "queue"})
    assert await stream.__anext__() == {"type": "queue"}
    await stream.aclose()


# -- the loop ------------------------------------------------------------------------------

async def test_run_polls_until_cancelled(table, feed, store):
    table.add("c-1", user("before the hub started"))
    handoff_id = await open_handoff(store)
    subscription = feed.subscribe("c-1")
    runner = asyncio.create_task(feed.run())
    try:
        await wait_for_start(feed)
        event_id = table.add("c-1", user("after", at=T0 + 60))
        message = await asyncio.wait_for(subscription.queue.get(), timeout=30)
        assert (message["event_id"], message["event"]["text"]) == (event_id, "after")
        assert (await store.get(handoff_id)).last_customer_text == "after"
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    # The older event was never sent; the queue may have been announced (its digest changed).
    assert [m for m in drain(subscription) if m["type"] != "queue"] == []


async def wait_for_start(feed: EventFeed, seconds: float = 30) -> None:
    """Until the loop has read its start position (it runs in the same event loop)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while feed.cursor == 0:
        assert asyncio.get_running_loop().time() < deadline, "the feed never started"
        await asyncio.sleep(0.01)
