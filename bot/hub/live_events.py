"""Live console updates in the scale-out profile: every hub hears every event from RabbitMQ.

On the embedded default the console's feed (`bot.hub.feed.EventFeed`) tails the SQL event
broker's table. In the scale-out profile Rasa publishes to RabbitMQ's fanout exchange
instead, and the durable queue there is shared by the hubs for the exchange log (each event
goes to one hub). For live updates each hub needs every event: `RabbitMqLiveEvents` gives
this hub a queue of its own (server-named, exclusive, deleted when the hub goes), bound to
the same exchange, and pushes each event into the feed, which keeps the handoff records
current (idempotent writes, so two hubs writing the same thing is fine) and tells the
console's streams. Events published while this hub is disconnected are not replayed: a
console page reloads its conversation when its stream reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from bot.hub.feed import EventFeed
from bot.trouble_log import TroubleLog

log = logging.getLogger(__name__)

EXCHANGE_NAME = "rasa-exchange"  # Rasa's PikaEventBroker default (endpoints.scale.yml)
RECONNECT_S = (0.5, 30.0)


class RabbitMqLiveEvents:
    def __init__(self, feed: EventFeed, url: str, exchange: str = EXCHANGE_NAME) -> None:
        self.feed = feed
        self.url = url
        self.exchange = exchange
        self.listening = asyncio.Event()
        self.trouble_log = TroubleLog(log, "console live updates: listening to RabbitMQ again")

    async def run(self) -> None:
        """Listen until cancelled; reconnect with backoff, saying so once and again when back."""
        delay = RECONNECT_S[0]
        while True:
            try:
                await self.listen()
            except (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError, ConnectionError) as error:
                self.trouble_log.say(f"console live updates: RabbitMQ unreachable "
                                     f"({type(error).__name__}); retrying")
            else:
                delay = RECONNECT_S[0]
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_S[1])

    async def listen(self) -> None:
        connection = await aio_pika.connect(self.url, timeout=10)
        closed = asyncio.Event()
        connection.close_callbacks.add(lambda *_: closed.set())
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange, "")
            await queue.consume(self.deliver, no_ack=True)
            self.listening.set()
            self.trouble_log.recovered()
            await closed.wait()
            raise ConnectionError("the connection to RabbitMQ closed")
        finally:
            self.listening.clear()
            await connection.close()

    async def deliver(self, message: AbstractIncomingMessage) -> None:
        try:
            event = json.loads(message.body)
        except (TypeError, ValueError):
            return  # not an event: the exchange log sets such bodies aside and says why
        if isinstance(event, dict) and isinstance(event.get("sender_id"), str):
            await self.feed.push(event["sender_id"], event)
