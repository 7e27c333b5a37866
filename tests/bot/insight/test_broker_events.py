"""Reading broker events: what is accepted, and the values the exchange log keeps."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from bot.insight.broker_events import (
    Malformed, clean, entities_json, language_of, rating_of, read_event, redacted,
)
from tests.bot.insight.sample_events import EMAIL, T0, published, said


def test_an_event_is_read_from_a_dict_text_or_bytes() -> None:
    event = published("tg-42", [said("hello", "greet", 0.9, T0)])[0]
    expected = ("tg-42", event, datetime.utcfromtimestamp(T0))
    assert read_event("tg-42", event) == expected
    assert read_event("tg-42", json.dumps(event)) == expected
    assert read_event("tg-42", json.dumps(event).encode()) == expected


@pytest.mark.parametrize(("sender", "event", "reason"), [
    ("", {"event": "restart", "timestamp": T0}, "no sender id"),
    ("x" * 129, {"event": "restart", "timestamp": T0}, "sender id longer than 128 characters"),
    ("tg-42", b"\xff\xfe", "not JSON"),
    ("tg-42", {"event": "restart", "timestamp": True}, "timestamp is not a number"),
    ("tg-42", {"event": "restart", "timestamp": 12.0}, "timestamp out of range"),
    ("tg-42", {"event": "slot", "timestamp": T0, "name": ""}, "slot event without name"),
    ("tg-42", {"event": "user", "timestamp": T0, "parse_data": {"entities": {}}},
     "user event: entities is a dict"),
])
def test_what_cannot_be_read_says_why(sender: str, event: object, reason: str) -> None:
    with pytest.raises(Malformed) as problem:
        read_event(sender, event)
    assert str(problem.value) == reason


def test_an_event_type_the_log_ignores_is_still_readable() -> None:
    assert read_event("tg-42", {"event": "followup", "timestamp": T0, "name": "x"})[0] == "tg-42"


def test_values_are_made_safe_for_any_database() -> None:
    assert clean("a\x00b\ud800c", 10) == "ab?c"
    assert clean("abcdef", 3) == "abc"
    assert redacted(f"write to {EMAIL}") == "write to [email]"
    assert redacted(None) is None
    assert json.loads(entities_json([{"entity": "email", "value": EMAIL, "start": 0},
                                     {"value": "no entity name"}])) == [
        {"entity": "email", "value": "[email]"}]
    assert entities_json([]) is None
    nested: list = []
    for _ in range(200):
        nested = [nested]
    with pytest.raises(Malformed):
        entities_json([{"entity": "deep", "value": nested}])


@pytest.mark.parametrize(("value", "rating"), [
    (5, 5), (3.0, 3), ("4", 4), ("five stars", 5), ("⭐⭐", 2), (9, None), (True, None),
    ("no idea", None), (None, None),
])
def test_a_rating_slot_becomes_csat(value: object, rating: object) -> None:
    assert rating_of(value) == rating


def test_the_language_comes_from_nlu_or_the_channel() -> None:
    assert language_of({"parse_data": {"language": "de"}, "metadata": {"locale": "en-GB"}}) == "de"
    assert language_of({"metadata": {"locale": "en-GB"}}) == "en-GB"
    assert language_of({"metadata": {"language": 7}}) is None
