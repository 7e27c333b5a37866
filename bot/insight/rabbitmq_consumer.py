"""Feeding the exchange log from RabbitMQ, where Rasa's PikaEventBroker publishes (scale-out).

Rasa's `PikaEventBroker` (rasa.core.brokers.pika, aio-pika) declares a fanout exchange
("rasa-exchange" unless `exchange_name` says otherwise, not durable), binds its `queues`
(durable) to it and publishes each event as a persistent message whose body is the event's
JSON with the conversation's `sender_id` added. `RabbitMqConsumer` declares the same
exchange and queue (so events wait in the queue even while the hub is down), takes up to
`prefetch` messages at a time, records what has arrived in one transaction of the hub
database and only then acks it. So:

- a hub that stops before acking gets the messages again (RabbitMQ requeues unacked ones),
  and recording them again changes nothing (the log is idempotent by `event_key`);
- a body that is not an event object is set aside with the reason, then acked: never a
  crash, never a message delivered again and again;
- when the hub database fails nothing is acked: the connection is closed (the messages go
  back to the queue) and the consumer tries again with backoff;
- when RabbitMQ goes away the consumer reconnects with backoff (0.5 s doubling to 30 s),
  saying so once in the log.

Rasa's broker publishes at most once (what it cannot publish is held in the Rasa process's
memory only): `bot.insight.reconcile` makes the log complete from the tracker store.

Known limit: with several hubs on one queue, each holds part of a conversation's events, so
bot-turn latencies and actions are only as right as each hub's share of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Awaitable, Optional

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

from bot.errors import StoreUnavailable
from bot.insight.broker_events import Malformed
from bot.insight.exchange_log import ExchangeLog
from bot.settings import Settings
from bot.trouble_log import TroubleLog

log = logging.getLogger(__name__)

EXCHANGE_NAME = "rasa-exchange"  # Rasa's default (rasa.core.brokers.pika.RABBITMQ_EXCHANGE)
QUEUE_NAME = "rapport_exchange_log"  # endpoints.scale.yml names it in the broker's `queues`
SOURCE = "rabbitmq"
BATCH = 200  # messages recorded per transaction at most
PREFETCH = 500  # messages RabbitMQ hands over before an ack
MIN_BACKOFF, MAX_BACKOFF = 0.5, 30.0  # seconds between reconnection attempts
CONNECT_TIMEOUT = 10.0


class ConnectionLost(Exception):
    """RabbitMQ closed the connection or the channel."""


def read_message(body: bytes) -> tuple[Any, dict[str, Any]]:
    """(sender id, event) from a message of Rasa's broker; Malformed if it holds no event object."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Malformed("message body is not JSON") from None
    if not isinstance(event, dict):
        raise Malformed(f"message body is a JSON {type(event).__name__}, not an event object")
    return event.get("sender_id"), event


def shown(url: str) -> str:
    """The URL without its password, for the log."""
    parsed = URL(url)
    return str(parsed.with_password("***") if parsed.password else parsed)


class RabbitMqConsumer:
    """Records the events in Rasa's RabbitMQ queue into an `ExchangeLog`, acking after commit."""

    def __init__(self, exchange_log: ExchangeLog, url: str, *, queue: str = QUEUE_NAME,
                 exchange: str = EXCHANGE_NAME, batch: int = BATCH, prefetch: int = PREFETCH,
                 min_backoff: float = MIN_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.exchange_log = exchange_log
        self.url = url
        self.queue = queue
        self.exchange = exchange
        self.batch = batch
        self.prefetch = prefetch
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.connect_timeout = connect_timeout
        self.consuming = asyncio.Event()  # set while connected and taking messages
        self.trouble_log = TroubleLog(log, "exchange log consumer: reading RabbitMQ again")
        self.acked = 0  # messages recorded (or set aside) and acked since start
        self._was_consuming = False  # the last attempt got as far as taking messages

    @property
    def trouble(self) -> Optional[str]:
        """What went wrong last, until it works again."""
        return self.trouble_log.trouble

    @property
    def troubles(self) -> int:
        """How many times something went wrong (tests wait on it)."""
        return self.trouble_log.count

    @classmethod
    def from_settings(cls, settings: Settings, exchange_log: ExchangeLog) -> "RabbitMqConsumer":
        if not settings.rabbitmq_url:
            raise ValueError("RAPPORT_RABBITMQ_URL is not set")
        return cls(exchange_log, settings.rabbitmq_url, queue=settings.rabbitmq_queue)

    async def run(self) -> None:
        """Consume until cancelled, reconnecting with backoff when RabbitMQ or the log fails."""
        delay = self.min_backoff
        while True:
            try:
                await self.consume()
            except StoreUnavailable as error:
                self.trouble_log.say(f"exchange log consumer (RabbitMQ) waiting: {error}")
            except ConnectionLost as error:
                self.trouble_log.say(f"exchange log consumer lost RabbitMQ at {shown(self.url)}: "
                                     f"{error}")
            except (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError) as error:
                self.trouble_log.say(f"exchange log consumer cannot reach RabbitMQ at "
                                     f"{shown(self.url)} ({type(error).__name__})")
            except Exception:  # noqa: BLE001 (keep the log fed; say what broke)
                self.trouble_log.unexpected("exchange log consumer (RabbitMQ): unexpected error")
            if self._was_consuming:
                delay = self.min_backoff
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def close(self) -> None:
        """Nothing to release: `consume` closes its connection when it ends or is cancelled."""

    async def consume(self) -> None:
        """Connect, then record messages until the connection is lost (raises) or cancelled."""
        self._was_consuming = False
        connection = await aio_pika.connect(self.url, timeout=self.connect_timeout)
        lost = asyncio.Event()
        try:
            connection.close_callbacks.add(lambda *_: lost.set())
            channel = await connection.channel()
            channel.close_callbacks.add(lambda *_: lost.set())
            await channel.set_qos(prefetch_count=self.prefetch)
            # The same declarations as Rasa's broker: declaring with other flags would fail.
            exchange = await channel.declare_exchange(self.exchange,
                                                      aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(exchange, "")
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

            async def arrived(message: AbstractIncomingMessage) -> None:
                inbox.put_nowait(message)

            await queue.consume(arrived, no_ack=False)
            self._was_consuming = True
            self.consuming.set()
            self.trouble_log.recovered()
            while True:
                batch = [await _next(inbox, lost)]
                while len(batch) < self.batch and not inbox.empty():
                    batch.append(inbox.get_nowait())
                await self.record(batch, lost)
        finally:
            self.consuming.clear()
            with contextlib.suppress(*CONNECTION_EXCEPTIONS, asyncio.TimeoutError):
                await asyncio.wait_for(connection.close(), self.connect_timeout)

    async def record(self, batch: list[AbstractIncomingMessage], lost: asyncio.Event) -> None:
        """Record a batch of messages (bad ones set aside), then ack them all at once."""
        events: list[tuple[Any, Any]] = []
        unreadable: list[tuple[bytes, str]] = []
        for message in batch:
            try:
                events.append(read_message(message.body))
            except Malformed as problem:
                unreadable.append((message.body, str(problem)))
        for body, reason in unreadable:
            await self.exchange_log.set_aside(SOURCE, None, body, reason)
        if events:
            await self.exchange_log.record_many(events, SOURCE)
        # Acks only once the log has committed; multiple=True acks the batch's earlier ones too.
        # An ack sent as the connection drops may never complete: stop waiting once it is lost.
        await _unless_lost(batch[-1].ack(multiple=True), lost, self.connect_timeout)
        self.acked += len(batch)


async def _unless_lost(work: Awaitable[Any], lost: asyncio.Event, timeout: float) -> None:
    """Await `work`; ConnectionLost if the connection closes first or it takes `timeout` s."""
    doing = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({doing, waiter}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (doing, waiter):
            task.cancel()
    if doing.done() and not doing.cancelled():
        doing.result()  # raises what the ack raised
        return
    raise ConnectionLost("the connection closed before RabbitMQ had the ack")


async def _next(inbox: "asyncio.Queue[AbstractIncomingMessage]",
                lost: asyncio.Event) -> AbstractIncomingMessage:
    """The next message, or ConnectionLost once the connection or channel closes."""
    if not inbox.empty():
        return inbox.get_nowait()
    getter = asyncio.ensure_future(inbox.get())
    waiter = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (getter, waiter):
            task.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    raise ConnectionLost("the connection closed")
