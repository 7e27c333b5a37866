"""The RabbitMQ consumer: Rasa's own PikaEventBroker publishes, the consumer records into the log.

Against the machine's RabbitMQ (a fresh queue and exchange per test); the hub database is
SQLite and PostgreSQL (the suite's `make_db_url`).
"""

from __future__ import annotations

import json
import secrets
from typing import Callable

import pytest
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.events import Event
from rasa.utils.endpoints import read_endpoint_config
from sqlalchemy.engine import Engine

from bot.insight.exchange_log import ExchangeLog
from bot.insight.rabbitmq_consumer import (
    EXCHANGE_NAME, QUEUE_NAME, SOURCE, RabbitMqConsumer, read_message,
)
from bot.insight.broker_events import Malformed
from bot.insight.tables import conversations, set_aside, turns
from bot.settings import Settings
from tests.bot.insight.insight_db import rows
from tests.bot.insight.rabbitmq_world import (
    DOMAIN, Rabbit, in_turns, running, turn_keys, wait_until,
)
from tests.bot.insight.sample_events import gives_up_waiting, order_then_handoff, published
from tests.support import PROJECT
from tests.support.tcp_proxy import TcpProxy

EXPECTED = {"tg-42": (5, 6, "escalated", 1, 5), "rest:shop:7": (2, 1, "abandoned", 0, None)}


async def save(broker: PikaEventBroker, sender_id: str, events: list[Event]) -> None:
    """Save a conversation turn by turn as Rasa does: its tracker store publishes to `broker`."""
    store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
    tracker = await store.get_or_create_tracker(sender_id, append_action_listen=False)
    for turn in in_turns(events):
        for event in turn:
            tracker.update(event)
        await store.save(tracker)


def turn_keys_in(engine: Engine) -> list[str]:
    return sorted(row["event_key"] for row in rows(engine, turns))


def summary(engine: Engine) -> dict[str, tuple]:
    return {r["conversation_id"]: (r["customer_turns"], r["bot_turns"], r["outcome"],
                                   r["fallbacks"], r["csat"])
            for r in rows(engine, conversations)}


def queue_holds(rabbit: Rabbit, count: int) -> Callable[[], object]:
    """Rasa's broker publishes in background tasks: wait for them before closing it."""
    async def holds() -> bool:
        return await rabbit.depth() == count
    return holds


def acked(consumer: RabbitMqConsumer, count: int) -> Callable[[], object]:
    """The consumer has acked `count` messages (their turns committed before that)."""
    async def done() -> bool:
        return consumer.acked >= count
    return done


def has_keys(engine: Engine, keys: list[str]) -> Callable[[], object]:
    async def recorded() -> bool:
        return set(keys) <= set(turn_keys_in(engine))
    return recorded


async def test_events_rasas_broker_publishes_are_recorded_and_acked(
        rabbit: Rabbit, exchange_log: ExchangeLog) -> None:
    broker = await rabbit.broker()
    try:
        await save(broker, "tg-42", order_then_handoff())
        await save(broker, "rest:shop:7", gives_up_waiting())
        await wait_until(queue_holds(rabbit, len(order_then_handoff()) + len(gives_up_waiting())),
                         "Rasa's broker publishing every event")
    finally:
        await broker.close()
    expected = sorted(turn_keys("tg-42", order_then_handoff()) +
                      turn_keys("rest:shop:7", gives_up_waiting()))

    consumer = rabbit.consumer(exchange_log)
    published_count = len(order_then_handoff()) + len(gives_up_waiting())
    async with running(consumer):
        await wait_until(acked(consumer, published_count), "recording every event")
    assert turn_keys_in(exchange_log.engine) == expected
    assert summary(exchange_log.engine) == EXPECTED
    assert rows(exchange_log.engine, set_aside) == []
    assert await rabbit.depth() == 0  # every message acked, none waiting to come back
    assert consumer.troubles == 0


async def test_a_malformed_message_is_set_aside_and_acked(rabbit: Rabbit,
                                                          exchange_log: ExchangeLog) -> None:
    good = published("rest:shop:7", gives_up_waiting())[0]
    await rabbit.publish_raw(b"not json \xff", b"[1, 2]",
                             json.dumps({"event": "user", "text": "hello"}).encode(),
                             json.dumps(good).encode())
    consumer = rabbit.consumer(exchange_log)
    key = turn_keys("rest:shop:7", [good])
    async with running(consumer):
        await wait_until(acked(consumer, 4), "reading the four messages")

    assert turn_keys_in(exchange_log.engine) == key
    kept = rows(exchange_log.engine, set_aside)
    assert sorted(row["reason"] for row in kept) == [
        "message body is a JSON list, not an event object", "message body is not JSON",
        "no sender id"]
    assert {row["source"] for row in kept} == {SOURCE}
    assert await rabbit.depth() == 0  # acked: nothing comes back to be read again
    assert consumer.troubles == 0  # no crash, no reconnection


def test_read_message_says_what_is_wrong() -> None:
    assert read_message(b'{"sender_id": "a", "event": "user"}') == (
        "a", {"sender_id": "a", "event": "user"})
    with pytest.raises(Malformed, match="not JSON"):
        read_message(b"\xff\xfe")
    with pytest.raises(Malformed, match="a JSON str"):
        read_message(b'"text"')


async def test_a_restarted_consumer_loses_nothing_and_duplicates_nothing(
        rabbit: Rabbit, exchange_log: ExchangeLog) -> None:
    events = order_then_handoff()
    first = events[:12]
    broker = await rabbit.broker()
    try:
        await save(broker, "tg-42", first)
        first_consumer = rabbit.consumer(exchange_log)
        async with running(first_consumer):
            await wait_until(acked(first_consumer, len(first)),
                             "the first consumer recording the first part")
        # The hub is down: the rest of the conversation, and a replay of its start.
        for event in published("tg-42", events):
            broker.publish(event)
        await wait_until(queue_holds(rabbit, len(events)), "Rasa's broker publishing")
    finally:
        await broker.close()

    second_consumer = rabbit.consumer(exchange_log)
    async with running(second_consumer):
        await wait_until(acked(second_consumer, len(events)),
                         "the second consumer recording the rest")
    assert turn_keys_in(exchange_log.engine) == sorted(turn_keys("tg-42", events))
    assert summary(exchange_log.engine) == {"tg-42": EXPECTED["tg-42"]}
    assert await rabbit.depth() == 0


async def test_nothing_is_acked_while_the_log_cannot_be_written(
        rabbit: Rabbit, exchange_log: ExchangeLog) -> None:
    events = gives_up_waiting()
    await rabbit.publish_raw(*(json.dumps(event).encode()
                               for event in published("rest:shop:7", events)))
    # A hub database that refuses connections (nothing listens on port 1).
    broken = ExchangeLog.from_url("postgresql+psycopg2://rapport@127.0.0.1:1/hub")
    consumer = rabbit.consumer(broken)
    try:
        async with running(consumer):
            async def failed() -> bool:
                return consumer.troubles >= 2  # failed, backed off, failed again
            await wait_until(failed, "the consumer meeting the unwritable log")
        assert "waiting" in (consumer.trouble or "")
    finally:
        await broken.close()
    assert await rabbit.depth() == len(events)  # every message back in the queue

    working = rabbit.consumer(exchange_log)
    async with running(working):
        await wait_until(acked(working, len(events)), "recording once the log can be written")
    assert summary(exchange_log.engine) == {"rest:shop:7": EXPECTED["rest:shop:7"]}
    assert await rabbit.depth() == 0


async def test_the_consumer_reconnects_when_rabbitmq_goes_away(
        rabbit: Rabbit, exchange_log: ExchangeLog) -> None:
    events = order_then_handoff()
    before, after = events[:12], events[12:]
    proxy = await TcpProxy("127.0.0.1", 5672).start()
    consumer = rabbit.consumer(exchange_log, port=proxy.port)
    broker = await rabbit.broker()  # Rasa's line to RabbitMQ stays up
    try:
        async with running(consumer):
            await save(broker, "tg-42", before)
            await wait_until(has_keys(exchange_log.engine, turn_keys("tg-42", before)),
                             "recording before the outage")
            # (the cut may come while the last ack is under way, as it would in life)
            await proxy.cut()

            async def retried() -> bool:
                return proxy.connections_refused >= 2 and not consumer.consuming.is_set()
            try:
                await wait_until(retried, "the consumer trying to reconnect")
            except AssertionError as failure:
                raise AssertionError(f"{failure}: {consumer.trouble}, {consumer.troubles}, "
                                     f"{consumer.consuming.is_set()}, "
                                     f"{proxy.connections_refused}") from None
            assert "RabbitMQ" in (consumer.trouble or "")

            for event in published("tg-42", after):
                broker.publish(event)
            proxy.restore()
            await wait_until(has_keys(exchange_log.engine, turn_keys("tg-42", after)),
                             "recording after the outage")
            assert consumer.trouble is None
    finally:
        await broker.close()
        await proxy.close()
    assert turn_keys_in(exchange_log.engine) == sorted(turn_keys("tg-42", events))
    assert summary(exchange_log.engine) == {"tg-42": EXPECTED["tg-42"]}


def test_the_scale_profile_publishes_where_the_consumer_reads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_PROFILE": "scale",
                                  "RAPPORT_ACTIONS_SECRET": secrets.token_urlsafe(16),
                                  "RAPPORT_RABBITMQ_URL":
                                  f"amqp://rapport:{secrets.token_urlsafe(12)}@mq.internal:5673/"})
    for name, value in settings.child_env().items():  # what `rapport run` hands Rasa
        monkeypatch.setenv(name, value)
    config = read_endpoint_config(str(PROJECT / "endpoints.scale.yml"), "event_broker")
    assert config is not None and config.type == "pika"
    assert (config.url, config.kwargs["port"], config.kwargs["username"]) == (
        "mq.internal", "5673", "rapport")
    assert config.kwargs["queues"] == [QUEUE_NAME]
    assert config.kwargs.get("exchange_name", EXCHANGE_NAME) == EXCHANGE_NAME
    unused = ExchangeLog.from_url("sqlite://")
    consumer = RabbitMqConsumer.from_settings(settings, unused)
    assert (consumer.queue, consumer.exchange, consumer.url) == (
        QUEUE_NAME, EXCHANGE_NAME, settings.rabbitmq_url)
    unused.engine.dispose()
