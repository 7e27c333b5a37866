"""The hub runs the exchange log's consumer while it runs (bot.hub.insight_app), and stops it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore

from bot.channel_registry import ChannelRegistry
from bot.hub import keys
from bot.hub.app import create_app
from bot.insight.consumer import POSITION_NAME
from bot.insight.reconcile import POSITION_NAME as RECONCILED
from bot.insight.tables import turns
from bot.settings import Settings
from tests.bot.insight.insight_db import rows
from tests.bot.insight.rabbitmq_world import DOMAIN
from tests.bot.insight.sample_events import gives_up_waiting, published
from tests.support import PROJECT


async def test_the_hub_feeds_the_exchange_log_from_rasas_events(aiohttp_client,
                                                                tmp_path: Path) -> None:
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT),
                                  "RAPPORT_VAR_DIR": str(tmp_path)})
    app = create_app(settings, channels=ChannelRegistry([]))
    client = await aiohttp_client(app)
    exchange_log = app[keys.EXCHANGE_LOG]

    broker = SQLEventBroker(db=settings.events_db)  # Rasa starts after the hub
    for event in published("rest:shop:7", gives_up_waiting()):
        broker.publish(event)
    broker.engine.dispose()

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while await exchange_log.position(POSITION_NAME) < len(gives_up_waiting()):
        assert loop.time() < deadline, "the hub's consumer did not read Rasa's events"
        await asyncio.sleep(0.05)
    assert [r["role"] for r in rows(exchange_log.engine, turns)] == ["customer", "bot",
                                                                     "customer"]
    tasks = {task.get_name() for task in asyncio.all_tasks()}
    assert "insight-consumer" in tasks

    await client.close()
    assert "insight-consumer" not in {task.get_name() for task in asyncio.all_tasks()}


async def test_with_rabbitmq_the_hub_also_reconciles_from_the_tracker_store(
        aiohttp_client, tmp_path: Path) -> None:
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                                  # nothing listens on port 1: the consumer keeps retrying
                                  "RAPPORT_RABBITMQ_URL": "amqp://127.0.0.1:1/"})
    store = SQLTrackerStore(DOMAIN, dialect="sqlite", db=settings.tracker_db)
    tracker = await store.get_or_create_tracker("rest:shop:7", append_action_listen=False)
    for event in gives_up_waiting():
        tracker.update(event)
    await store.save(tracker)
    store.engine.dispose()

    app = create_app(settings, channels=ChannelRegistry([]))
    client = await aiohttp_client(app)
    exchange_log = app[keys.EXCHANGE_LOG]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while await exchange_log.position(RECONCILED) < len(gives_up_waiting()):
        assert loop.time() < deadline, "the hub's reconciler did not read the tracker store"
        await asyncio.sleep(0.05)
    assert [r["role"] for r in rows(exchange_log.engine, turns)] == ["customer", "bot",
                                                                     "customer"]
    tasks = {task.get_name() for task in asyncio.all_tasks()}
    assert {"insight-consumer", "insight-reconciler"} <= tasks

    await client.close()
    assert not {"insight-consumer", "insight-reconciler"} & {
        task.get_name() for task in asyncio.all_tasks()}
