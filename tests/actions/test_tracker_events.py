"""Reading intents, entities and sentiment from tracker events, as the actions do."""

from __future__ import annotations

from actions.tracker_events import (
    Understood, latest, latest_message_id, request_key, understood, understood_from,
    user_events, user_intents,
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


def _with_message_id(tracker, message_id, *, in_parse_data=True, on_event=True):
    """As Rasa sends it: the id in `latest_message` (parse_data) and on the `user` event."""
    if in_parse_data:
        tracker.latest_message["message_id"] = message_id
    if on_event:
        tracker.events[-1]["message_id"] = message_id
    return tracker


def test_the_message_id_comes_from_the_latest_message_or_its_user_event():
    assert latest_message_id(_with_message_id(make_tracker(text="hi"), "upd-7")) == "upd-7"
    from_event = _with_message_id(make_tracker(text="hi"), "upd-8", in_parse_data=False)
    assert latest_message_id(from_event) == "upd-8"
    assert latest_message_id(make_tracker(text="hi")) is None


def test_the_request_key_is_the_sender_and_the_message_id():
    tracker = _with_message_id(make_tracker(text="hi", sender="telegram-42"), "upd-7")
    assert request_key(tracker) == "telegram-42:upd-7"
    assert request_key(tracker, "callback") == "telegram-42:upd-7:callback"
    assert request_key(make_tracker(text="hi", sender="telegram-42")) is None  # no id, no key


def test_the_same_message_gives_the_same_key_and_another_message_another():
    one = _with_message_id(make_tracker(text="hi", sender="s"), "m-1")
    same = _with_message_id(make_tracker(text="hi again", sender="s"), "m-1")
    other = _with_message_id(make_tracker(text="hi", sender="s"), "m-2")
    assert request_key(one) == request_key(same) != request_key(other)


def test_a_key_the_crm_could_not_take_becomes_a_stable_hash():
    long_sender = make_tracker(text="hi", sender="w" * 200)
    key = request_key(_with_message_id(long_sender, "m-1"))
    assert key.startswith("sha256:") and len(key) == 71
    assert key == request_key(_with_message_id(make_tracker(text="x", sender="w" * 200), "m-1"))
    odd = request_key(_with_message_id(make_tracker(text="hi", sender="tab\there"), "m-1"))
    assert odd.startswith("sha256:") and odd.isprintable()
