"""bot/insight/sql_event_broker.py: Rasa's SQL broker's rows, a turn per transaction."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.insight.sql_event_broker import TurnSQLEventBroker


def stored(database: Path) -> list[tuple[str, dict]]:
    with sqlite3.connect(database) as db:
        return [(sender, json.loads(data)) for sender, data in
                db.execute("SELECT sender_id, data FROM events ORDER BY id")]


async def test_rasa_makes_it_from_endpoints_and_it_writes_rasas_rows(tmp_path: Path) -> None:
    config = EndpointConfig(type="bot.insight.sql_event_broker.TurnSQLEventBroker",
                            dialect="sqlite", db=str(tmp_path / "events.db"))
    broker = await EventBroker.create(config)
    assert isinstance(broker, TurnSQLEventBroker)
    turn = [{"sender_id": "c-1", "event": "user", "text": "hi"},
            {"sender_id": "c-1", "event": "bot", "text": "Hello!"}]
    broker.publish_many(turn)
    broker.publish({"sender_id": "c-2", "event": "action", "name": "action_listen"})
    assert stored(tmp_path / "events.db") == [(e["sender_id"], e) for e in turn] + [
        ("c-2", {"sender_id": "c-2", "event": "action", "name": "action_listen"})]
    with sqlite3.connect(tmp_path / "events.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_turn_is_published_whole_or_not_at_all(tmp_path: Path) -> None:
    broker = TurnSQLEventBroker(db=str(tmp_path / "events.db"))
    broker.publish({"sender_id": "c-1", "event": "user", "text": "first"})
    with pytest.raises(TypeError):  # an event that cannot be written
        broker.publish_many([{"sender_id": "c-1", "event": "bot", "text": "ok"},
                             {"sender_id": "c-1", "event": "slot", "value": object()}])
    assert [data["text"] for _, data in stored(tmp_path / "events.db")] == ["first"]
