"""The windowed tracker store beside Rasa's own, fed the very same turns (SQLite, real brokers).

Each turn is played as Rasa's processor plays it: retrieve (or create), append the turn's
events, save. Whatever the window, the two stores must hold the same rows and publish the
same events; the windowed one must read back a bounded tracker with the same slots and loop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.dialogue.tracker_window import (
    MIN_TURNS_AFTER_CUT, SNAPSHOT_KEY, WindowedSQLTrackerStore, snapshots, turn_boundary,
)
from bot.insight.rasa_events import SNAPSHOTS_TABLE
from bot.insight.sql_event_broker import TurnSQLEventBroker
from tests.support import PROJECT

DOMAIN = Domain.load(str(PROJECT / "domain.yml"))
WINDOW = 50
SENDER = "rest-test-long"


def turn(number: int, *extra: Event) -> list[Event]:
    """One customer message and the bot's answer, ending where the next message is awaited."""
    return [UserUttered(f"question {number}", {"name": "faq", "confidence": 1.0},
                        message_id=f"m{number}"),
            ActionExecuted("utter_greet"), BotUttered(f"answer {number}"), *extra,
            ActionExecuted("action_listen")]


def conversation(turns: int) -> list[list[Event]]:
    """A long conversation that verifies early, names an order later, ends inside a form."""
    extra: dict[int, list[Event]] = {
        2: [SlotSet("customer_verified", True), SlotSet("customer_id", "C-1")],
        30: [SlotSet("order_number", "RP-100001")],
        41: [SlotSet("order_number", None)],
        turns - 3: [ActiveLoop("complaint_form"), SlotSet("requested_slot", "issue_type")],
    }
    return [turn(number, *extra.get(number, [])) for number in range(turns)]


def stores(tmp_path: Path) -> tuple[SQLTrackerStore, WindowedSQLTrackerStore]:
    plain = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "plain.db"),
                            event_broker=SQLEventBroker(db=str(tmp_path / "plain-events.db")))
    windowed = WindowedSQLTrackerStore(
        DOMAIN, dialect="sqlite", db=str(tmp_path / "windowed.db"), window_events=WINDOW,
        event_broker=TurnSQLEventBroker(db=str(tmp_path / "windowed-events.db")))
    return plain, windowed


async def play(store: SQLTrackerStore, turns: list[list[Event]],
               sender: str = SENDER) -> None:
    for events in turns:
        tracker = await store.get_or_create_tracker(sender)
        for event in events:
            tracker.update(event)
        await store.save(tracker)


def rows(database: Path, columns: str = "sender_id, type_name, data") -> list[tuple[Any, ...]]:
    """The table's rows in order; the data without its timestamp (each store's first
    `action_listen` is its own)."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            found = connection.execute(text(f"SELECT {columns} FROM events ORDER BY id"))
            return [(*row[:-1], {key: value for key, value in json.loads(row[-1]).items()
                                 if key != "timestamp"}) for row in found]
    finally:
        engine.dispose()


def as_dicts(events: Any) -> list[dict]:
    return [event.as_dict() for event in events]


def after_snapshot(tracker: DialogueStateTracker) -> list[Event]:
    return [event for event in tracker.events
            if SNAPSHOT_KEY not in (getattr(event, "metadata", None) or {})]


async def test_a_long_conversation_is_stored_whole_and_read_back_as_a_bounded_window(
        tmp_path: Path) -> None:
    plain, windowed = stores(tmp_path)
    turns = conversation(150)
    for events in turns:  # the same event objects (timestamps included) into both
        await play(plain, [events])
        await play(windowed, [events])

    # stored and published: exactly what Rasa's own store stores and publishes
    assert rows(tmp_path / "windowed.db") == rows(tmp_path / "plain.db")
    assert rows(tmp_path / "windowed-events.db", "sender_id, data") == \
        rows(tmp_path / "plain-events.db", "sender_id, data")
    assert len(rows(tmp_path / "plain.db")) > 6 * WINDOW

    whole = await plain.retrieve(SENDER)
    window = await windowed.retrieve(SENDER)
    recent = after_snapshot(window)
    assert len(recent) <= 2 * WINDOW + len(turns[-1])
    assert len(window.events) < len(whole.events) / 3
    # it opens where a turn opens, and ends exactly as the whole conversation does
    assert isinstance(recent[0], ActionExecuted) and recent[0].action_name == "action_listen"
    assert as_dicts(recent) == as_dicts(list(whole.events)[-len(recent):])
    # what forms, rules and actions read is the same
    assert window.current_slot_values() == whole.current_slot_values()
    assert window.current_slot_values()["customer_id"] == "C-1"  # set at turn 2
    assert window.current_slot_values()["order_number"] is None  # set, then cleared
    assert window.active_loop_name == whole.active_loop_name == "complaint_form"
    assert window.latest_message.text == "question 149"
    # the full tracker is still whole (Rasa's API, the hub's transcripts)
    full = (await windowed.retrieve_full_tracker(SENDER)).events
    assert len(full) == len(whole.events)
    assert as_dicts(list(full)[1:]) == as_dicts(list(whole.events)[1:])  # 0: each store's own


async def test_the_window_moves_on_as_the_conversation_goes_on(tmp_path: Path) -> None:
    _, windowed = stores(tmp_path)
    sizes = []
    for events in conversation(300):
        await play(windowed, [events])
        sizes.append(len((await windowed.retrieve(SENDER)).events))
    assert max(sizes[150:]) <= 2 * WINDOW + 2 * len(turn(0)) + len(DOMAIN.slots)
    assert max(sizes[150:]) == max(sizes[250:])  # bounded: no longer growing
    engine = create_engine(f"sqlite:///{tmp_path / 'windowed.db'}")
    with engine.connect() as connection:
        taken = connection.execute(text(f"SELECT sender_id FROM {SNAPSHOTS_TABLE}")).all()
    engine.dispose()
    assert taken == [(SENDER,)] and snapshots.name == SNAPSHOTS_TABLE


async def test_a_new_session_starts_without_the_old_snapshot(tmp_path: Path) -> None:
    plain, windowed = stores(tmp_path)
    for events in conversation(100):
        await play(plain, [events])
        await play(windowed, [events])
    restart = [ActionExecuted("action_session_start"), SessionStarted(),  # made later
               SlotSet("customer_id", "C-1"), ActionExecuted("action_listen")]
    for events in (restart, turn(99)):
        await play(plain, [events])
        await play(windowed, [events])

    fresh, expected = await windowed.retrieve(SENDER), await plain.retrieve(SENDER)
    assert as_dicts(fresh.events) == as_dicts(expected.events)
    assert [e.text for e in fresh.events if isinstance(e, UserUttered)] == ["question 99"]


async def test_a_tracker_made_elsewhere_is_saved_by_count_as_rasa_does(tmp_path: Path) -> None:
    """Rasa's API can hand the store a tracker built from events, with no snapshot in it."""
    plain, windowed = stores(tmp_path)
    turns = conversation(100)
    await play(plain, turns)
    await play(windowed, turns)
    everything = [event for events in turns for event in events]
    extra = turn(100)
    for store in (plain, windowed):
        rebuilt = DialogueStateTracker.from_events(
            SENDER, [*as_events(await store.retrieve_full_tracker(SENDER)), *extra],
            DOMAIN.slots)
        await store.save(rebuilt)
    assert rows(tmp_path / "windowed.db") == rows(tmp_path / "plain.db")
    assert len(rows(tmp_path / "plain.db")) == 1 + len(everything) + len(extra)


def as_events(tracker: Optional[DialogueStateTracker]) -> list[Event]:
    return list(tracker.events) if tracker else []


@pytest.mark.parametrize("window", [0, 49, "many", None])
def test_a_window_too_small_to_hold_a_few_turns_is_refused(tmp_path: Path, window: Any) -> None:
    with pytest.raises(ValueError):
        WindowedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"),
                                window_events=window)



def test_the_cut_is_never_where_a_revert_could_reach_past_it() -> None:
    """`/back` reverts two customer turns; a fallback one. A cut at a listen a revert undid,
    or with fewer customer turns after it than a revert and the policies' history need,
    would let a later replay drop the snapshot's slots and form."""
    from rasa.shared.core.events import UserUtteranceReverted

    turns = conversation(40)
    for reverted in (30, 33, 34):  # /back at 30; two fallbacks in a row at 33 and 34
        count = 2 if reverted == 30 else 1
        turns[reverted] = [*turns[reverted][:-1], *[UserUtteranceReverted()] * count,
                           ActionExecuted("action_listen")]
    tracker = DialogueStateTracker.from_events(
        SENDER, [event for events in turns for event in events], DOMAIN.slots)
    events, applied = list(tracker.events), {id(e) for e in tracker.applied_events()}

    for wanted in range(len(events)):
        cut = turn_boundary(tracker, wanted, 1)
        if cut is None:
            continue
        assert cut <= wanted and id(events[cut]) in applied
        assert events[cut].action_name == "action_listen"
        after = [e for e in events[cut:] if id(e) in applied and isinstance(e, UserUttered)]
        assert len(after) >= MIN_TURNS_AFTER_CUT
    # the latest possible cut leaves exactly enough applied customer turns after it
    latest = turn_boundary(tracker, len(events) - 1, 1)
    assert sum(1 for e in events[latest:]
               if id(e) in applied and isinstance(e, UserUttered)) == MIN_TURNS_AFTER_CUT
    assert turn_boundary(tracker, 0, 1) is None


async def test_a_conversation_paused_for_a_person_stays_paused(tmp_path: Path) -> None:
    """During a handoff the bot stays quiet, however long the agent and customer talk."""
    from rasa.shared.core.events import ConversationPaused

    plain, windowed = stores(tmp_path)
    turns = [*conversation(20), [ConversationPaused(), ActionExecuted("action_listen")]]
    turns += [[UserUttered(f"to the agent {n}"), BotUttered(f"agent {n}")] for n in range(150)]
    for events in turns:
        await play(plain, [events])
        await play(windowed, [events])
    whole, window = await plain.retrieve(SENDER), await windowed.retrieve(SENDER)
    assert whole.is_paused() and window.is_paused()
    assert len(window.events) < len(whole.events)
