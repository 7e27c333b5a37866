"""The machine's RabbitMQ for the exchange log's tests: a fresh queue and exchange per test.

Rasa's own broker publishes (`EventBroker.create` from an `EndpointConfig`, as Rasa reads
endpoints.yml), optionally through a `TcpProxy` that a test can cut. The `rabbit` fixture
(conftest.py) skips when nothing listens on 127.0.0.1:5672 and deletes the queue and exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import aio_pika
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.utils.endpoints import EndpointConfig

from bot.handoff.transcript import is_external
from bot.insight.rabbitmq_consumer import RabbitMqConsumer
from bot.insight.tables import event_key

HOST, PORT = "127.0.0.1", 5672
# The stock account of a RabbitMQ installed for local use (loopback only), not a secret.
USER = PASSWORD = "guest"
DEADLINE = 30.0  # seconds a test waits for RabbitMQ and the consumer before failing

DOMAIN = Domain.from_dict({"slots": {
    name: {"type": "any", "mappings": [{"type": "custom"}]}
    for name in ("customer_id", "case_id", "handoff_id", "rating", "pending_question")}})


@dataclass
class Rabbit:
    """This test's queue and exchange on the machine's RabbitMQ."""

    queue: str
    exchange: str

    def url(self, port: int = PORT) -> str:
        return f"amqp://{USER}:{PASSWORD}@{HOST}:{port}/"

    async def broker(self, port: int = PORT) -> PikaEventBroker:
        """Rasa's broker, made the way Rasa makes it from endpoints.yml's `event_broker`."""
        config = EndpointConfig(url=HOST, type="pika", port=port, username=USER,
                                password=PASSWORD, queues=[self.queue],
                                exchange_name=self.exchange, connection_attempts=3,
                                retry_delay_in_seconds=0.1)
        broker = await EventBroker.create(config)
        assert isinstance(broker, PikaEventBroker)
        return broker

    def consumer(self, exchange_log: Any, port: int = PORT) -> RabbitMqConsumer:
        return RabbitMqConsumer(exchange_log, self.url(port), queue=self.queue,
                                exchange=self.exchange, min_backoff=0.05, max_backoff=0.2,
                                connect_timeout=5)

    async def publish_raw(self, *bodies: bytes) -> None:
        """Messages straight onto the exchange, whatever they hold."""
        connection = await aio_pika.connect(self.url())
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(self.exchange,
                                                      aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(exchange, "")
            for body in bodies:
                await exchange.publish(aio_pika.Message(body), "")

    async def depth(self) -> int:
        """Messages waiting in the queue (not counting those a consumer holds unacked)."""
        connection = await aio_pika.connect(self.url())
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.queue, passive=True)
            return int(queue.declaration_result.message_count)

    async def take_all(self, expected: int) -> list[bytes]:
        """Take (and ack) `expected` messages, waiting for them to arrive."""
        bodies: list[bytes] = []
        connection = await aio_pika.connect(self.url())
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.queue, passive=True)

            async def enough() -> bool:
                while (message := await queue.get(fail=False)) is not None:
                    bodies.append(message.body)
                    await message.ack()
                return len(bodies) >= expected

            await wait_until(enough, f"{expected} messages in the queue")
        return bodies

    async def delete(self) -> None:
        connection = await aio_pika.connect(self.url())
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.queue)
            await channel.exchange_delete(self.exchange)


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str,
                     deadline: float = DEADLINE) -> None:
    """Check `condition` until it holds; fail saying `what` did not happen in time."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while not await condition():
        assert loop.time() < give_up, f"{what} did not happen within {deadline:.0f} s"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(feed: Any) -> AsyncIterator[asyncio.Task]:
    """Run a consumer's `run()` as a task for the block, then cancel it as the hub does."""
    task = asyncio.create_task(feed.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def turn_keys(sender_id: str, events: list[Event | dict[str, Any]]) -> list[str]:
    """The event keys of the turns a conversation's events make (customer, bot and agent)."""
    keys = []
    for event in events:
        data = event.as_dict() if isinstance(event, Event) else event
        if data["event"] == "bot" or (data["event"] == "user" and not is_external(data)):
            keys.append(event_key(sender_id, data))
    return keys


def in_turns(events: list[Event]) -> list[list[Event]]:
    """A conversation's events cut where the customer speaks: what Rasa saves at a time."""
    turns: list[list[Event]] = [[]]
    for event in events:
        if isinstance(event, UserUttered) and turns[-1]:
            turns.append([])
        turns[-1].append(event)
    return turns
