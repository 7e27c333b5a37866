"""The exchange log on real SQLite and PostgreSQL databases, fed Rasa's own event dicts."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.insight.exchange_log import ExchangeLog
from bot.insight.tables import conversations, set_aside, turns
from tests.bot.insight.insight_db import rows
from tests.bot.insight.sample_events import (
    EMAIL, PHONE, T0, gives_up_waiting, order_then_handoff, published, ran, said, uttered,
)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


async def record_all(store: ExchangeLog, sender: str, events: list[dict]) -> list[bool]:
    return [await store.record(sender, event) for event in events]


async def test_a_conversation_becomes_turns_and_a_summary(exchange_log: ExchangeLog) -> None:
    await record_all(exchange_log, "tg-42", published("tg-42", order_then_handoff()))

    said_rows = rows(exchange_log.engine, turns)
    assert [(r["role"], r["action"], r["response"], r["latency_ms"]) for r in said_rows] == [
        ("customer", None, None, None),
        ("bot", "action_order_status", "utter_order_status", 500),
        ("customer", None, None, None),
        ("bot", "action_default_fallback", "utter_default", 350),
        ("customer", None, None, None),
        ("bot", "action_handoff", "utter_handoff_started", 600),
        ("agent", None, None, None),
        ("customer", None, None, None),
        ("bot", "action_handoff_resolved", "utter_handoff_back", None),  # answers the hub
        ("bot", "action_handoff_resolved", "utter_ask_rating", None),
        ("customer", None, None, None),
        ("bot", "utter_thanks_rating", "utter_thanks_rating", 350),
    ]
    first = said_rows[0]
    assert first["intent"] == "where_is_my_order" and first["confidence"] == pytest.approx(0.93)
    assert first["sentiment"] == pytest.approx(-0.4)
    assert first["channel"] == "telegram" and first["language"] == "en-GB"
    assert first["at"] == at(T0 + 1)
    assert json.loads(first["entities"]) == [{"entity": "email", "value": "[email]"}]
    assert first["text"] == "Hi, where is my order? Mail me at [email] or ring [phone]"
    assert [r["intent"] for r in said_rows if r["role"] == "customer"] == [
        "where_is_my_order", "nlu_fallback", "request_human", "thank", "rate"]
    assert {r["channel"] for r in said_rows} == {"telegram"}

    (summary,) = rows(exchange_log.engine, conversations)
    assert summary == {
        "conversation_id": "tg-42", "channel": "telegram", "language": "en-GB",
        "started_at": at(T0 + 1), "last_at": at(T0 + 100.35),
        "customer_turns": 5, "bot_turns": 6, "customer_id": "C-000000000001",
        "case_id": None, "handoff_id": "H-0001", "outcome": "escalated", "csat": 5,
        "first_sentiment": pytest.approx(-0.4), "last_sentiment": pytest.approx(0.5),
        "fallbacks": 1,
    }
    assert rows(exchange_log.engine, set_aside) == []


async def test_replaying_a_conversation_changes_nothing(exchange_log: ExchangeLog) -> None:
    events = published("tg-42", order_then_handoff())
    first = await record_all(exchange_log, "tg-42", events)
    before = rows(exchange_log.engine, turns), rows(exchange_log.engine, conversations)

    again = await record_all(exchange_log, "tg-42", events)
    # and from a process that never saw it (its in-memory state rebuilt from the tables)
    fresh = ExchangeLog(exchange_log.engine)
    from_json = await record_all(fresh, "tg-42", [json.dumps(event) for event in events])

    # 12 turns; customer_id, action_handoff (escalated), handoff_id and rating changed the summary
    assert sum(first) == 12 + 4
    assert not any(again) and not any(from_json)
    assert (rows(exchange_log.engine, turns), rows(exchange_log.engine, conversations)) == before


async def test_restarting_while_waiting_for_a_person_is_abandoned(
        exchange_log: ExchangeLog) -> None:
    await record_all(exchange_log, "rest:shop:7", published("rest:shop:7", gives_up_waiting()))
    await record_all(exchange_log, "tg-42", published("tg-42", order_then_handoff()) +
                     published("tg-42", [ran("action_restart", T0 + 200),
                                         said("hi", "greet", 0.99, T0 + 201, channel="telegram")]))
    await exchange_log.record("tg-42", {"event": "restart", "timestamp": T0 + 200.1})

    outcomes = {r["conversation_id"]: (r["outcome"], r["customer_turns"], r["bot_turns"])
                for r in rows(exchange_log.engine, conversations)}
    assert outcomes == {"rest:shop:7": ("abandoned", 2, 1),  # nobody came before the restart
                        "tg-42": ("escalated", 6, 6)}  # the handoff had ended


async def test_a_bot_only_conversation_is_contained(exchange_log: ExchangeLog) -> None:
    events = published("wc-1", [said("hello", "greet", 0.98, T0, channel="webchat"),
                                ran("utter_greet", T0 + 0.2),
                                uttered("Hi! How can I help?", "utter_greet", T0 + 0.25)])
    assert await record_all(exchange_log, "wc-1", events) == [True, False, True]
    (summary,) = rows(exchange_log.engine, conversations)
    assert (summary["outcome"], summary["channel"], summary["fallbacks"]) == (
        "contained", "webchat", 0)


async def test_a_declined_remedy_that_becomes_a_callback_is_escalated(
        exchange_log: ExchangeLog) -> None:
    """With nobody online the handoff is a callback: no handoff_id stays set and
    action_handoff never runs, yet the customer was handed to a person."""
    from rasa.shared.core.events import SlotSet

    events = published("rest-x", [
        said("no thats not good enough", "deny", 0.97, T0, channel="rest"),
        ran("action_decline_remedy", T0 + 0.2),
        uttered("Sorry, a colleague will call you about case CS-1.", "utter_handoff_no_agent_case",
                T0 + 0.3), SlotSet("handoff_id", None, timestamp=T0 + 0.31)])
    await record_all(exchange_log, "rest-x", events)
    (summary,) = rows(exchange_log.engine, conversations)
    assert summary["outcome"] == "escalated"


@pytest.mark.parametrize(("event", "reason"), [
    (["user", "hello"], "not an event object (a list)"),
    ({"timestamp": T0, "text": "hello"}, "no event type"),
    ({"event": "user", "text": "hello"}, "no timestamp"),
    ({"event": "user", "timestamp": "yesterday", "text": "hello"}, "timestamp is not a number"),
    ({"event": "user", "timestamp": float("nan"), "text": "hello"}, "timestamp out of range"),
    ({"event": "user", "timestamp": 1e300, "text": "hello"}, "timestamp out of range"),
    ({"event": "user", "timestamp": T0, "text": 42}, "user event: text is a int"),
    ({"event": "user", "timestamp": T0, "text": "hi", "parse_data": {"intent": "greet"}},
     "user event: intent is a str"),
    ({"event": "user", "timestamp": T0, "text": "hi",
      "parse_data": {"intent": {"name": "greet", "confidence": "high"}}},
     "user event: intent confidence is not a number"),
    ({"event": "bot", "timestamp": T0, "text": "hi", "metadata": ["agent"]},
     "bot event: metadata is a list"),
    ({"event": "action", "timestamp": T0}, "action event without name"),
    ({"event": "slot", "timestamp": T0, "name": "case_id", "value": {"id": 1}},
     "slot case_id holds a dict"),
    ("{not json", "not JSON"),
    ("[" * 100_000, "not JSON"),
])
async def test_an_unreadable_event_is_set_aside_with_its_reason(
        exchange_log: ExchangeLog, event: object, reason: str) -> None:
    assert await exchange_log.record("tg-42", event) is False
    (kept,) = rows(exchange_log.engine, set_aside)
    assert (kept["source"], kept["conversation_id"], kept["reason"]) == ("sql", "tg-42", reason)
    assert len(kept["raw"]) <= 2000
    assert rows(exchange_log.engine, turns) == []
    assert await exchange_log.record("tg-42", event) is False  # a replay is not kept twice
    assert len(rows(exchange_log.engine, set_aside)) == 1


async def test_a_set_aside_event_keeps_no_personal_data(exchange_log: ExchangeLog) -> None:
    await exchange_log.record("tg-42", {"event": "user", "timestamp": "soon",
                                        "text": f"I'm at {EMAIL}, {PHONE} " + "x" * 3000})
    await exchange_log.record(None, {"event": "user", "timestamp": T0, "text": EMAIL})
    kept = rows(exchange_log.engine, set_aside)
    assert [(k["conversation_id"], k["reason"]) for k in kept] == [
        ("tg-42", "timestamp is not a number"), (None, "no sender id")]
    assert all(EMAIL not in k["raw"] and "7700" not in k["raw"] for k in kept)
    assert "[email]" in kept[0]["raw"] and len(kept[0]["raw"]) == 2000


async def test_personal_data_never_reaches_the_tables(exchange_log: ExchangeLog) -> None:
    events = published("tg-42", order_then_handoff())
    events.append({"sender_id": "tg-42", "event": "user", "timestamp": T0 + 500,
                   "text": f"nul\x00 in {EMAIL} \ud800", "input_channel": "telegram",
                   "parse_data": {"intent": {"name": "inform", "confidence": 0.5},
                                  "entities": [{"entity": "phone", "value": PHONE},
                                               {"entity": "contact",
                                                "value": {"mail": [EMAIL]}}]}})
    await record_all(exchange_log, "tg-42", events)

    stored = json.dumps([rows(exchange_log.engine, table) for table in (turns, conversations,
                                                                        set_aside)], default=str)
    assert EMAIL not in stored and "ada.lovelace" not in stored
    assert "7700" not in stored and "900123" not in stored
    last = rows(exchange_log.engine, turns)[-1]
    assert last["text"] == "nul in [email] ?"
    assert json.loads(last["entities"]) == [{"entity": "phone", "value": "[phone]"},
                                            {"entity": "contact", "value": {"mail": ["[email]"]}}]


async def test_a_replayed_turn_from_another_broker_is_the_same_turn(
        exchange_log: ExchangeLog) -> None:
    event = published("tg-42", [said("hello", "greet", 0.98, T0)])[0]
    assert await exchange_log.record("tg-42", event, source="sql") is True
    assert await exchange_log.record("tg-42", json.dumps(event).encode(), source="rabbitmq") \
        is False
    assert len(rows(exchange_log.engine, turns)) == 1


async def test_state_is_rebuilt_for_a_conversation_the_process_never_saw(
        exchange_log: ExchangeLog) -> None:
    await record_all(exchange_log, "tg-42", published("tg-42", [
        said("where is my order", "where_is_my_order", 0.9, T0, channel="telegram")]))
    fresh = ExchangeLog(exchange_log.engine)  # a restarted hub
    await record_all(fresh, "tg-42", published("tg-42", [
        ran("action_order_status", T0 + 0.7),
        uttered("It arrives on Friday.", "utter_order_status", T0 + 0.8)]))
    reply = rows(exchange_log.engine, turns)[-1]
    assert (reply["action"], reply["latency_ms"], reply["channel"]) == (
        "action_order_status", 800, "telegram")


async def test_slots_fill_the_summary_and_only_real_changes_count(
        exchange_log: ExchangeLog) -> None:
    slot = {"event": "slot", "timestamp": T0, "name": "case_id", "value": "CASE-9"}
    assert await exchange_log.record("tg-42", slot) is True
    assert await exchange_log.record("tg-42", {**slot, "timestamp": T0 + 1}) is False
    assert await exchange_log.record("tg-42", {**slot, "name": "rating", "value": 4}) is True
    assert await exchange_log.record("tg-42", {**slot, "name": "rating",
                                               "value": "no idea"}) is False
    assert await exchange_log.record("tg-42", {**slot, "name": "case_id",
                                               "value": None}) is False
    (summary,) = rows(exchange_log.engine, conversations)
    assert (summary["case_id"], summary["csat"], summary["customer_turns"]) == ("CASE-9", 4, 0)


async def test_an_event_the_database_refuses_is_set_aside_and_the_batch_goes_on(
        tmp_path) -> None:
    store = ExchangeLog.from_url(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        await store.ensure_tables()
        with store.engine.begin() as connection:  # a database that refuses one turn's text
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON insight_turns "
                "WHEN NEW.text = 'refuse me' BEGIN SELECT RAISE(ABORT, 'refused'); END")
        events = published("tg-42", [said("hello", "greet", 0.9, T0),
                                     said("refuse me", "inform", 0.9, T0 + 1),
                                     said("bye", "goodbye", 0.9, T0 + 2)])

        changed = await store.record_many([("tg-42", e) for e in events],
                                          position=("test-broker", 3))

        assert changed == 2
        assert [r["text"] for r in rows(store.engine, turns)] == ["hello", "bye"]
        (summary,) = rows(store.engine, conversations)
        assert summary["customer_turns"] == 2
        (kept,) = rows(store.engine, set_aside)
        assert kept["reason"] == "the database refused it (IntegrityError)"
        assert await store.position("test-broker") == 3
    finally:
        await store.close()
