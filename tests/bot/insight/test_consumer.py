"""The SQL broker consumer: Rasa's own SQLEventBroker writes, the consumer reads into the log.

The hub database is SQLite and PostgreSQL (the suite's `make_db_url`); the broker's is a
SQLite file, as `rapport run` sets it up, and once PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Callable

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from sqlalchemy.engine import Engine, make_url

from bot.errors import StoreUnavailable
from bot.insight.consumer import POSITION_NAME, SqlBrokerConsumer, events_url
from bot.insight.exchange_log import ExchangeLog
from bot.insight.tables import conversations, set_aside, turns
from tests.bot.insight.insight_db import rows
from tests.bot.insight.sample_events import T0, gives_up_waiting, order_then_handoff
from tests.support.postgres import create_pg_database, drop_pg_database


DOMAIN = Domain.from_dict({"slots": {
    name: {"type": "any", "mappings": [{"type": "custom"}]}
    for name in ("customer_id", "case_id", "handoff_id", "rating", "pending_question")}})


@pytest.fixture
def events_db(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


async def save(broker: SQLEventBroker, sender_id: str, events: list[Event]) -> None:
    """Save a tracker the way Rasa does, so its tracker store streams the events to `broker`."""
    store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
    tracker = await store.get_or_create_tracker(sender_id, append_action_listen=False)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


async def drain(consumer: SqlBrokerConsumer) -> int:
    """Poll until nothing new is left; how many rows were read."""
    total = 0
    while read := await consumer.poll_once():
        total += read
    return total


def summary(engine: Engine) -> dict[str, tuple]:
    return {r["conversation_id"]: (r["customer_turns"], r["bot_turns"], r["outcome"],
                                   r["fallbacks"], r["csat"])
            for r in rows(engine, conversations)}


EXPECTED = {"tg-42": (5, 6, "escalated", 1, 5), "rest:shop:7": (2, 1, "abandoned", 0, None)}


async def test_every_event_is_recorded_in_order(exchange_log: ExchangeLog,
                                                events_db: Path) -> None:
    broker = SQLEventBroker(db=str(events_db))
    await save(broker, "tg-42", order_then_handoff())
    await save(broker, "rest:shop:7", gives_up_waiting(T0 + 5))
    consumer = SqlBrokerConsumer(exchange_log, events_url(str(events_db)), batch=10)

    read = await drain(consumer)

    assert read == len(order_then_handoff()) + len(gives_up_waiting())
    assert summary(exchange_log.engine) == EXPECTED
    recorded = rows(exchange_log.engine, turns)
    assert [r["at"] for r in recorded] == sorted(r["at"] for r in recorded
                                                 if r["conversation_id"] == "tg-42") + sorted(
        r["at"] for r in recorded if r["conversation_id"] == "rest:shop:7")
    assert await exchange_log.position(POSITION_NAME) == read  # the last event's id
    assert await consumer.poll_once() == 0


async def test_a_new_consumer_continues_from_the_stored_position(
        hub_url: str, events_db: Path) -> None:
    broker = SQLEventBroker(db=str(events_db))
    await save(broker, "tg-42", order_then_handoff())
    first_log = ExchangeLog.from_url(hub_url)
    # Six events: the first batch ends after action_order_status, before the reply it sent.
    first = SqlBrokerConsumer(first_log, events_url(str(events_db)), batch=6)
    assert await first.poll_once() == 6
    await first.close()
    await first_log.close()
    await save(broker, "rest:shop:7", gives_up_waiting(T0 + 5))

    second_log = ExchangeLog.from_url(hub_url)  # a restarted hub: nothing in memory
    try:
        second = SqlBrokerConsumer(second_log, events_url(str(events_db)), batch=6)
        await drain(second)
        await second.close()
        recorded = rows(second_log.engine, turns)
        assert summary(second_log.engine) == EXPECTED
        assert len({(r["conversation_id"], r["event_key"]) for r in recorded}) == len(recorded) \
            == 12 + 3
        reply = next(r for r in recorded if r["role"] == "bot")
        assert (reply["action"], reply["latency_ms"]) == ("action_order_status", 500)
        assert await second_log.position(POSITION_NAME) == \
            len(order_then_handoff()) + len(gives_up_waiting())
    finally:
        await second_log.close()


async def test_unreadable_rows_are_set_aside_and_reading_goes_on(
        exchange_log: ExchangeLog, events_db: Path) -> None:
    broker = SQLEventBroker(db=str(events_db))
    with broker.session_scope() as session:
        session.add(broker.SQLBrokerEvent(sender_id="tg-9", data="{broken"))
        session.add(broker.SQLBrokerEvent(sender_id="tg-9",
                                          data=json.dumps({"event": "user", "text": "hi"})))
        session.add(broker.SQLBrokerEvent(sender_id=None, data=json.dumps(
            {"event": "bot", "timestamp": T0, "text": "hi"})))
        session.commit()
    await save(broker, "rest:shop:7", gives_up_waiting())
    consumer = SqlBrokerConsumer(exchange_log, events_url(str(events_db)))

    await drain(consumer)

    assert [(r["conversation_id"], r["reason"]) for r in rows(exchange_log.engine, set_aside)] \
        == [("tg-9", "not JSON"), ("tg-9", "no timestamp"), (None, "no sender id")]
    assert summary(exchange_log.engine) == {"rest:shop:7": EXPECTED["rest:shop:7"]}
    assert await exchange_log.position(POSITION_NAME) == 3 + len(gives_up_waiting())


async def test_a_missing_broker_database_is_waited_for_not_created(
        exchange_log: ExchangeLog, events_db: Path) -> None:
    consumer = SqlBrokerConsumer(exchange_log, events_url(str(events_db)))
    with pytest.raises(StoreUnavailable, match="does not exist yet"):
        await consumer.poll_once()
    assert not events_db.exists()

    SQLEventBroker(db=str(events_db)).engine.dispose()  # Rasa creates it: an empty table
    assert await consumer.poll_once() == 0
    await save(SQLEventBroker(db=str(events_db)), "rest:shop:7", gives_up_waiting())
    assert await drain(consumer) == len(gives_up_waiting())
    await consumer.close()


async def test_a_missing_events_table_is_a_clear_error(exchange_log: ExchangeLog,
                                                       events_db: Path) -> None:
    events_db.write_bytes(b"")  # a database file with no tables yet
    consumer = SqlBrokerConsumer(exchange_log, events_url(str(events_db)))
    with pytest.raises(StoreUnavailable, match="event table .* cannot be read"):
        await consumer.poll_once()
    await consumer.close()


async def test_run_waits_for_rasa_then_keeps_up(exchange_log: ExchangeLog,
                                                events_db: Path) -> None:
    consumer = SqlBrokerConsumer(exchange_log, events_url(str(events_db)), poll_seconds=0.01)
    task = asyncio.create_task(consumer.run())
    try:
        await save(SQLEventBroker(db=str(events_db)), "rest:shop:7", gives_up_waiting())
        await until(lambda: summary(exchange_log.engine) == {
            "rest:shop:7": EXPECTED["rest:shop:7"]})
        await save(SQLEventBroker(db=str(events_db)), "tg-42", order_then_handoff())
        await until(lambda: summary(exchange_log.engine) == EXPECTED)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await consumer.close()


async def test_a_postgresql_broker_is_read_too(pg_admin: Engine,
                                               exchange_log: ExchangeLog) -> None:
    url = create_pg_database(pg_admin, "rapport_events_test")
    try:
        parsed = make_url(url)
        broker = SQLEventBroker(dialect="postgresql", host=parsed.host, port=parsed.port,
                                db=parsed.database, username=parsed.username,
                                password=parsed.password)
        await save(broker, "tg-42", order_then_handoff())
        broker.engine.dispose()
        consumer = SqlBrokerConsumer(exchange_log, url, batch=7)
        assert await drain(consumer) == len(order_then_handoff())
        await consumer.close()
        assert summary(exchange_log.engine) == {"tg-42": EXPECTED["tg-42"]}
    finally:
        drop_pg_database(pg_admin, url)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for `condition` (checked every few ms), failing after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the consumer did not catch up in time"
        await asyncio.sleep(0.01)
