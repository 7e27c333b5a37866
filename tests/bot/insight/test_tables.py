"""The exchange log's tables: event keys that stay the same for the same event, and the schema."""

from __future__ import annotations

import json

from sqlalchemy import inspect

from bot.database import make_engine
from bot.insight.tables import LATER_INDEXES, create_insight_tables, event_key
from tests.bot.insight.sample_events import T0, published, ran, said, uttered


def test_the_same_event_has_the_same_key_however_it_travelled() -> None:
    event = published("tg-42", [said("Where is my order?", "where_is_my_order", 0.9, T0)])[0]
    through_json = json.loads(json.dumps(event))
    without_sender = {k: v for k, v in event.items() if k != "sender_id"}
    key = event_key("tg-42", event)
    assert key == event_key("tg-42", through_json) == event_key("tg-42", without_sender)
    assert len(key) == 64 and int(key, 16) >= 0


def test_a_whole_number_timestamp_keys_like_its_float() -> None:
    event = {"event": "bot", "timestamp": 1_790_000_000, "text": "Hello"}
    assert event_key("tg-42", event) == event_key("tg-42", {**event, "timestamp": 1.79e9})


def test_keys_differ_by_conversation_type_time_and_words() -> None:
    base = uttered("Hello", "utter_greet", T0).as_dict()
    keys = {
        event_key("tg-42", base),
        event_key("tg-43", base),
        event_key("tg-42", {**base, "event": "user"}),
        event_key("tg-42", {**base, "timestamp": T0 + 0.001}),
        event_key("tg-42", {**base, "text": "Hello!"}),
        event_key("tg-42", ran("utter_greet", T0).as_dict()),
        event_key("tg-42", ran("utter_goodbye", T0).as_dict()),
    }
    assert len(keys) == 7


def test_a_key_from_a_broken_event_is_still_a_key() -> None:
    assert len(event_key("tg-42", {"event": None, "timestamp": "yesterday", "text": 42})) == 64


def test_creating_the_tables_twice_is_harmless(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        create_insight_tables(engine)
        create_insight_tables(engine)
        inspector = inspect(engine)
        assert {"insight_conversations", "insight_turns", "insight_set_aside",
                "insight_positions"} <= set(inspector.get_table_names())
        unique = inspector.get_unique_constraints("insight_turns")
        assert [sorted(c["column_names"]) for c in unique] == [["conversation_id", "event_key"]]
    finally:
        engine.dispose()


def test_an_older_database_gains_the_indexes_added_since(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        create_insight_tables(engine)
        with engine.begin() as connection:  # as a database made before these indexes
            for index in LATER_INDEXES:
                connection.exec_driver_sql(f"DROP INDEX {index.name}")
        create_insight_tables(engine)
        inspector = inspect(engine)
        present = {found["name"] for table in ("insight_turns", "insight_conversations")
                   for found in inspector.get_indexes(table)}
        assert {index.name for index in LATER_INDEXES} <= present
        assert len(LATER_INDEXES) == 5
    finally:
        engine.dispose()
