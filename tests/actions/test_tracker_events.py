"""Reading intents, entities and sentiment from tracker events, as the actions do."""

from __future__ import annotations

from actions.tracker_events import (
    Understood, latest, understood, understood_from, user_events, user_intents,
)
from tests.support.trackers import make_tracker, user_event

AMOUNT = {"entity": "amount", "value": "12,50", "start": 10, "end": 15}


def test_a_user_event_reads_intent_confidence_entities_and_sentiment():
    event = user_event("charged 12,50 twice", "complain", entities=[AMOUNT], sentiment=-0.42)
    assert understood(event) == Understood(intent="complain", confidence=0.95,
                                           entities=(AMOUNT,), sentiment=-0.42)


def test_missing_or_malformed_parts_read_as_nothing():
    assert understood({"event": "user", "text": "hi"}) == Understood()
    assert understood({"event": "user", "parse_data": None}) == Understood()
    assert understood_from({"intent": None, "entities": None, "sentiment": None}) == Understood()
    assert understood_from({"intent": {"name": "", "confidence": "high"},
                            "entities": ["amount", AMOUNT],
                            "sentiment": {"compound": "n/a"}}) == Understood(entities=(AMOUNT,))
    assert understood_from({"intent": {"name": "greet"}}) == Understood(intent="greet")


def test_numbers_given_as_text_are_read_as_numbers():
    parsed = understood_from({"intent": {"name": "greet", "confidence": "0.5"},
                              "sentiment": {"compound": "-0.25"}})
    assert (parsed.confidence, parsed.sentiment) == (0.5, -0.25)


def test_latest_reads_the_trackers_latest_message():
    tracker = make_tracker(text="I want to complain", intent="complain", sentiment=-0.3,
                           history=[user_event("hello", "greet")])
    assert latest(tracker) == Understood(intent="complain", confidence=0.95, sentiment=-0.3)


def test_latest_without_a_message_is_empty():
    tracker = make_tracker()
    tracker.latest_message = {}
    assert latest(tracker) == Understood()


def test_user_events_and_intents_skip_other_events_oldest_first():
    history = [
        {"event": "action", "name": "action_listen"},
        user_event("hello", "greet"),
        {"event": "bot", "text": "Hi!"},
        {"event": "user", "text": "??", "parse_data": {"intent": {}}},
        {"event": "slot", "name": "order_number", "value": "RP-100003"},
    ]
    tracker = make_tracker(text="this is useless", intent="insult", history=history)
    assert [event["text"] for event in user_events(tracker)] == ["hello", "??", "this is useless"]
    assert user_intents(tracker) == ["greet", "", "insult"]
