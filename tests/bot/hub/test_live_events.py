"""Scale-out: two hubs both hear every event Rasa publishes to RabbitMQ (real RabbitMQ)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import aio_pika
import pytest

from bot.handoff.store import HandoffStore, NewHandoff
from bot.handoff.priority import Factors
from bot.handoff.tables import create_hub_tables, open_database
from bot.hub.feed import EventFeed
from bot.hub.live_events import RabbitMqLiveEvents
from tests.support.postgres import nothing_listens

URL = "amqp://guest:guest@127.0.0.1:5672/"
HANG_GUARD_S = 20  # only turns a hang into a failure


@pytest.fixture
def rabbitmq_listens() -> None:
    if nothing_listens("127.0.0.1", 5672):
        pytest.skip("no RabbitMQ listening on 127.0.0.1:5672")


async def publish(exchange_name: str, bodies: list[bytes]) -> None:
    """As Rasa's PikaEventBroker does: persistent messages on a fanout exchange."""
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.FANOUT)
        for body in bodies:
            await exchange.publish(aio_pika.Message(
                body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key="")


async def test_every_hub_hears_every_event_and_keeps_the_handoff_current(
        tmp_path: Path, rabbitmq_listens) -> None:
    exchange = f"rapport-test-{secrets.token_hex(4)}"
    hubs = []
    for number in range(2):  # two hubs, each with its own database for this test
        database = open_database(f"sqlite:///{tmp_path / f'hub{number}.db'}")
        await asyncio.to_thread(create_hub_tables, database.engine)
        store = HandoffStore(database)
        await store.create(NewHandoff(conversation_id="rest-shop-7", channel="rest",
                                      reason="asked for a person", factors=Factors(),
                                      packet={}))
        feed = EventFeed(str(tmp_path / "no-sql-broker.db"), store)
        live = RabbitMqLiveEvents(feed, URL, exchange=exchange)
        hubs.append((database, store, feed, feed.subscribe("rest-shop-7"),
                     asyncio.create_task(live.run()), live))
    try:
        for *_, live in hubs:
            await asyncio.wait_for(live.listening.wait(), HANG_GUARD_S)
        said = {"event": "user", "text": "are you still there?", "timestamp": 1_780_000_000.0,
                "parse_data": {"intent": {"name": "inform", "confidence": 0.9}},
                "sender_id": "rest-shop-7"}
        await publish(exchange, [b"not json", json.dumps(said).encode()])
        for database, store, feed, subscription, *_ in hubs:
            message = await asyncio.wait_for(subscription.queue.get(), HANG_GUARD_S)
            assert (message["type"], message["conversation_id"], message["event"]["text"]) == (
                "turn", "rest-shop-7", "are you still there?")
            handoff = await store.open_for("rest-shop-7")
            assert handoff.last_customer_text == "are you still there?"
    finally:
        for database, _store, _feed, _subscription, task, _live in hubs:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await database.close()
