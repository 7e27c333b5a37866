"""The tracker-store reconciler makes the exchange log complete whatever RabbitMQ dropped.

Rasa's own SQLTrackerStore (a SQLite file) saves each turn and streams its events to Rasa's own
PikaEventBroker, as `rasa run` does with endpoints.scale.yml; RabbitMQ is the machine's (a
fresh queue and exchange per test), reached through a TcpProxy when a test cuts the line.
The hub database is SQLite and PostgreSQL (the suite's `make_db_url`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from bot.errors import StoreUnavailable
from bot.insight.consumer import events as rasa_events
from bot.insight.exchange_log import ExchangeLog
from bot.insight.rabbitmq_consumer import RabbitMqConsumer
from bot.insight.reconcile import TrackerStoreReconciler
from bot.insight.tables import conversations, event_key, set_aside, turns
from tests.bot.insight.insight_db import rows
from tests.bot.insight.rabbitmq_world import (
    DOMAIN, HOST, PORT, Rabbit, in_turns, running, turn_keys, wait_until,
)
from tests.bot.insight.sample_events import T0, gives_up_waiting, order_then_handoff
from tests.support.tcp_proxy import TcpProxy

EXPECTED = {"tg-42": (5, 6, "escalated", 1, 5), "rest:shop:7": (2, 1, "abandoned", 0, None)}


@dataclass
class Rasa:
    """Rasa's SQL tracker store on a file, streaming every saved event to its Pika broker."""

    store: SQLTrackerStore
    broker: PikaEventBroker

    @classmethod
    async def start(cls, rabbit: Rabbit, tracker_db: Path, port: int = PORT) -> "Rasa":
        broker = await rabbit.broker(port)
        store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tracker_db),
                                event_broker=broker)
        return cls(store, broker)

    async def say(self, sender_id: str, turns_: list[list[Event]]) -> None:
        """Each turn's events, saved as Rasa saves a tracker after a message (read afresh)."""
        for turn in turns_:
            tracker = await self.store.get_or_create_tracker(sender_id,
                                                             append_action_listen=False)
            for event in turn:
                tracker.update(event)
            await self.store.save(tracker)

    async def stop(self) -> None:
        """The Rasa process ends: its broker's connection, and what it had not published, go."""
        await asyncio.wait_for(self.broker.close(), 10)
        self.store.engine.dispose()


def stored_events(tracker_db: Path) -> list[tuple[str, dict[str, Any]]]:
    """(sender id, event) for every row of the tracker store, in id order."""
    engine = create_engine(f"sqlite:///{tracker_db}", future=True)
    try:
        with engine.connect() as connection:
            found = connection.execute(select(rasa_events.c.sender_id, rasa_events.c.data)
                                       .order_by(rasa_events.c.id)).all()
    finally:
        engine.dispose()
    return [(sender, json.loads(data)) for sender, data in found]


def turn_keys_in(engine: Engine) -> list[str]:
    return sorted(row["event_key"] for row in rows(engine, turns))


def summary(engine: Engine) -> dict[str, tuple]:
    return {r["conversation_id"]: (r["customer_turns"], r["bot_turns"], r["outcome"],
                                   r["fallbacks"], r["csat"])
            for r in rows(engine, conversations)}


def has_keys(engine: Engine, keys: list[str]) -> Callable[[], Any]:
    async def recorded() -> bool:
        return set(keys) <= set(turn_keys_in(engine))
    return recorded


def acked(consumer: RabbitMqConsumer, count: int) -> Callable[[], Any]:
    async def done() -> bool:
        return consumer.acked >= count
    return done


def keys_of(turns_: list[list[Event]], sender_id: str) -> list[str]:
    return turn_keys(sender_id, [event for turn in turns_ for event in turn])


async def test_a_tracker_store_row_and_the_broker_message_give_the_same_event_key(
        rabbit: Rabbit, tmp_path: Path) -> None:
    tracker_db = tmp_path / "tracker.db"
    events = order_then_handoff()
    rasa = await Rasa.start(rabbit, tracker_db)
    try:
        await rasa.say("tg-42", in_turns(events))
        messages = [json.loads(body) for body in await rabbit.take_all(len(events))]
    finally:
        await rasa.stop()

    from_rows = [event_key(sender, data) for sender, data in stored_events(tracker_db)]
    from_messages = [event_key(message["sender_id"], message) for message in messages]
    assert len(from_rows) == len(events) and len(set(from_rows)) == len(events)
    assert sorted(from_messages) == sorted(from_rows)
    assert from_rows == [event_key("tg-42", event.as_dict()) for event in events]


async def test_after_a_rabbitmq_outage_the_log_has_every_turn_exactly_once(
        rabbit: Rabbit, exchange_log: ExchangeLog, tmp_path: Path) -> None:
    tracker_db = tmp_path / "tracker.db"
    tg = in_turns(order_then_handoff())  # 0 start, 1 order, 2 fallback, 3 handoff, 4.. after
    shop = in_turns(gives_up_waiting(T0 + 1000))  # 0 asks for a person, 1 restarts
    before, during, after = tg[:2], tg[2:4], tg[4:]

    proxy = await TcpProxy(HOST, PORT).start()
    consumer = rabbit.consumer(exchange_log, port=proxy.port)
    reconciler = TrackerStoreReconciler(exchange_log.twin(),
                                        f"sqlite:///{tracker_db}")
    rasa = await Rasa.start(rabbit, tracker_db, proxy.port)
    try:
        async with running(consumer):
            await rasa.say("tg-42", before)
            await wait_until(has_keys(exchange_log.engine, keys_of(before, "tg-42")),
                             "recording the turns before the outage")

            await proxy.cut()  # RabbitMQ goes away mid-conversation
            await rasa.say("tg-42", during)
            await rasa.say("rest:shop:7", shop[:1])
            await rasa.stop()  # and Rasa restarts before it is back
            proxy.restore()
            rasa = await Rasa.start(rabbit, tracker_db, proxy.port)
            await rasa.say("tg-42", after)
            await rasa.say("rest:shop:7", shop[1:])
            await wait_until(has_keys(exchange_log.engine, keys_of(after, "tg-42") +
                                      keys_of(shop[1:], "rest:shop:7")),
                             "recording the turns after the outage")

            lost = keys_of(during, "tg-42") + keys_of(shop[:1], "rest:shop:7")
            assert lost and not set(lost) & set(turn_keys_in(exchange_log.engine)), \
                "the broker was meant to drop what it published during the outage"
            assert await reconciler.reconcile() == len(stored_events(tracker_db))
    finally:
        await rasa.stop()
        await reconciler.close()
        await proxy.close()

    expected = sorted(key for sender, data in stored_events(tracker_db)
                      for key in turn_keys(sender, [data]))
    assert turn_keys_in(exchange_log.engine) == expected  # every turn, once
    assert expected == sorted(keys_of(tg, "tg-42") + keys_of(shop, "rest:shop:7"))
    assert summary(exchange_log.engine) == EXPECTED
    assert rows(exchange_log.engine, set_aside) == []
    assert await exchange_log.position("tracker-store") > 0


async def test_replaying_both_sources_twice_changes_nothing(
        rabbit: Rabbit, exchange_log: ExchangeLog, tmp_path: Path) -> None:
    tracker_db = tmp_path / "tracker.db"
    url = f"sqlite:///{tracker_db}"
    consumer = rabbit.consumer(exchange_log)
    rasa = await Rasa.start(rabbit, tracker_db)
    try:
        async with running(consumer):
            await rasa.say("tg-42", in_turns(order_then_handoff()))
            await rasa.say("rest:shop:7", in_turns(gives_up_waiting(T0 + 1000)))
            stored = stored_events(tracker_db)
            await wait_until(acked(consumer, len(stored)), "recording what Rasa published")
            assert await TrackerStoreReconciler(exchange_log.twin(),
                                                url).reconcile() == len(stored)
            once = {table.name: rows(exchange_log.engine, table)
                    for table in (turns, conversations, set_aside)}
            assert summary(exchange_log.engine) == EXPECTED

            for replay in ("replay-1", "replay-2"):  # from the start of the tracker store
                reconciler = TrackerStoreReconciler(exchange_log.twin(), url,
                                                    name=replay)
                assert await reconciler.reconcile() == len(stored)
                await reconciler.close()
                for sender, data in stored:  # and the broker publishing it all again
                    rasa.broker.publish({"sender_id": sender, **data})
            await wait_until(acked(consumer, 3 * len(stored)), "recording both replays")
    finally:
        await rasa.stop()

    assert {table.name: rows(exchange_log.engine, table)
            for table in (turns, conversations, set_aside)} == once


async def test_the_reconciler_waits_for_rasa_to_make_its_tracker_store(
        exchange_log: ExchangeLog, tmp_path: Path) -> None:
    reconciler = TrackerStoreReconciler(exchange_log, f"sqlite:///{tmp_path / 'tracker.db'}")
    with pytest.raises(StoreUnavailable, match="does not exist yet"):
        await reconciler.reconcile()
    await reconciler.close()
    assert not (tmp_path / "tracker.db").exists()  # reading never creates Rasa's database
