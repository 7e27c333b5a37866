"""bot.handoff.transcript: Rasa's events as turns a person reads, and the customer's mood."""

from __future__ import annotations

import zlib
from typing import Any, Optional

import pytest

from bot.handoff.transcript import (
    MARKERS, Turn, agent_name_of, customer_sentiments, is_external, mood_of, sentiment_summary,
    trend, turn_of, turns,
)


def _user(text: str, at: float, compound: Optional[float] = None, intent: str = "order_status",
          confidence: Optional[float] = 0.9876) -> dict[str, Any]:
    parse_data: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence}}
    if compound is not None:
        parse_data["sentiment"] = {"compound": compound}
    return {"event": "user", "timestamp": at, "text": text, "parse_data": parse_data}


def _bot(text: str, at: float, agent: Optional[str] = None,
         buttons: Optional[list[Any]] = None) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "bot", "timestamp": at, "text": text,
                             "data": {"buttons": buttons}}
    if agent is not None:
        event["metadata"] = {"agent": agent}
    return event


def _key(kind: str, at: float, text: str) -> str:
    return f"{kind}-{at}-{zlib.crc32(text.encode()):08x}"


def test_a_conversation_reads_as_turns() -> None:
    events = [
        {"event": "session_started", "timestamp": 1.0},
        {"event": "action", "timestamp": 1.5, "name": "action_listen"},
        _user("where is my order?", 2.0, compound=-0.3),
        _bot("Which order?", 3.0, buttons=[{"title": "RP-100001", "payload": "/x"}, "junk"]),
        {"event": "pause", "timestamp": 4.0},
        _bot("Hi, I'm Sam, let me look.", 5.0, agent="Sam"),
        {"event": "slot", "timestamp": 5.5, "name": "order_number", "value": "RP-100001"},
        {"event": "resume", "timestamp": 6.0},
    ]
    assert turns(events) == [
        Turn(_key("session_started", 1.0, ""), "marker", "new session", 1.0),
        Turn(_key("user", 2.0, "where is my order?"), "customer", "where is my order?", 2.0,
             intent="order_status", confidence=0.99, sentiment=-0.3, mood="negative"),
        Turn(_key("bot", 3.0, "Which order?"), "bot", "Which order?", 3.0,
             buttons=("RP-100001",)),
        Turn(_key("pause", 4.0, ""), "marker", MARKERS["pause"], 4.0),
        Turn(_key("bot", 5.0, "Hi, I'm Sam, let me look."), "agent", "Hi, I'm Sam, let me look.",
             5.0, agent="Sam"),
        Turn(_key("resume", 6.0, ""), "marker", "back with the bot", 6.0),
    ]


def test_a_turn_has_the_same_key_from_either_source() -> None:
    """The tracker API and the event feed serialise one event alike, so keys match."""
    first, again = turn_of(_user("hello", 7.0)), turn_of(_user("hello", 7.0, compound=0.5))
    assert first.key == again.key
    assert first.key != turn_of(_user("hello!", 7.0)).key
    assert first.key != turn_of(_user("hello", 7.5)).key


def test_trigger_intents_are_not_customer_turns() -> None:
    external = _user("", 1.0, intent="EXTERNAL_handoff_timeout")
    assert is_external(external)
    assert not is_external(_user("hi", 1.0))
    assert not is_external({"event": "user", "parse_data": None})
    assert turn_of(external) is None


def test_a_customer_turn_without_parse_data() -> None:
    turn = turn_of({"event": "user", "timestamp": 1.0, "text": None})
    assert (turn.kind, turn.text, turn.intent, turn.confidence, turn.sentiment, turn.mood) == (
        "customer", "", None, None, None, None)


def test_the_agent_is_named_in_the_bot_events_metadata() -> None:
    assert agent_name_of(_bot("hi", 1.0, agent="Sam")) == "Sam"
    assert agent_name_of(_bot("hi", 1.0)) is None
    assert agent_name_of({"event": "bot", "metadata": {"agent": ""}}) is None
    assert agent_name_of({"event": "bot", "metadata": "Sam"}) is None
    assert agent_name_of({"event": "bot", "metadata": {"agent": 7}}) == "7"


@pytest.mark.parametrize("compound, mood", [
    (None, None), (0.05, "positive"), (0.9, "positive"), (0.049, "neutral"), (0.0, "neutral"),
    (-0.049, "neutral"), (-0.05, "negative"), (-0.8, "negative"),
])
def test_mood_of(compound: Optional[float], mood: Optional[str]) -> None:
    assert mood_of(compound) == mood


def test_customer_sentiments_are_the_typed_messages_scores_oldest_first() -> None:
    events = [
        _user("great", 1.0, compound=0.61234),
        _bot("glad to hear it", 2.0),
        _user("", 3.0, compound=-0.9, intent="EXTERNAL_reminder"),
        _user("no score", 4.0),
        {"event": "user", "parse_data": {"sentiment": {"compound": "bad"}}},
        _user("awful", 5.0, compound=-0.5),
    ]
    assert customer_sentiments(events) == [0.612, -0.5]


@pytest.mark.parametrize("scores, expected", [
    ([], "unknown"), ([0.5], "unknown"),
    ([0.5, 0.2], "worsening"), ([0.0, 0.2], "improving"), ([0.0, 0.19], "steady"),
    ([0.6, 0.6, 0.6, 0.0, 0.0, -0.6], "worsening"),  # the last third against the first
    ([-0.5, -0.5, 0.9, 0.9, -0.4, -0.4], "steady"),
])
def test_trend(scores: list[float], expected: str) -> None:
    assert trend(scores) == expected


def test_the_sentiment_summary_keeps_the_latest_scores() -> None:
    events = [_user(f"message {n}", float(n), compound=0.1 * n - 0.5) for n in range(6)]
    assert sentiment_summary(events, keep=3) == {
        "scores": [-0.2, -0.1, 0.0], "trend": "improving", "latest": 0.0, "lowest": -0.5}
    assert sentiment_summary([]) == {"scores": [], "trend": "unknown", "latest": None,
                                     "lowest": None}


def test_a_turn_as_a_dict() -> None:
    turn = turn_of(_bot("Pick one", 2.0, buttons=[{"title": "Yes"}, {"payload": "/no"}]))
    assert turn.as_dict() == {
        "key": _key("bot", 2.0, "Pick one"), "kind": "bot", "text": "Pick one", "at": 2.0,
        "intent": None, "confidence": None, "sentiment": None, "mood": None, "agent": None,
        "buttons": ("Yes", "")}
