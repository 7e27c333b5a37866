"""Wiring the exchange log (bot.insight) into the hub: its store, and the feeds that fill it.

`add_insight(app)` (called by `create_app`) opens the exchange log on the hub database when
the hub starts, runs its feeds as background tasks while it runs, and stops them when it
stops:
- embedded profile: the SQL broker consumer ("insight-consumer");
- RAPPORT_RABBITMQ_URL set (scale-out): the RabbitMQ consumer ("insight-consumer") and the
  tracker-store reconciler ("insight-reconciler"), which records what the broker dropped.
  The reconciler has its own `ExchangeLog` on the same engine (`twin()`; see
  bot.insight.reconcile).
The log's tables are made on first use, so a hub whose database is briefly unavailable
still starts; the feeds keep trying.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Protocol

from aiohttp import web

from bot.hub import keys
from bot.hub.background import stop_tasks
from bot.insight.consumer import SqlBrokerConsumer
from bot.insight.exchange_log import ExchangeLog
from bot.insight.rabbitmq_consumer import RabbitMqConsumer
from bot.insight.reconcile import TrackerStoreReconciler
from bot.settings import Settings


class _Feed(Protocol):
    async def run(self) -> None: ...

    async def close(self) -> None: ...


def _feeds(settings: Settings, exchange_log: ExchangeLog) -> dict[str, _Feed]:
    """The background tasks that fill the log, by task name."""
    if not settings.rabbitmq_url:
        return {"insight-consumer": SqlBrokerConsumer.from_settings(settings, exchange_log)}
    return {"insight-consumer": RabbitMqConsumer.from_settings(settings, exchange_log),
            "insight-reconciler": TrackerStoreReconciler.from_settings(
                settings, exchange_log.twin())}


async def _insight_resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    exchange_log = ExchangeLog.from_url(settings.hub_db_url)
    feeds = _feeds(settings, exchange_log)
    app[keys.EXCHANGE_LOG] = exchange_log
    tasks = [asyncio.create_task(feed.run(), name=name) for name, feed in feeds.items()]
    try:
        yield
    finally:
        await stop_tasks(tasks)
        for feed in feeds.values():
            await feed.close()
        await exchange_log.close()


def add_insight(app: web.Application) -> None:
    """Open the exchange log and run its feeds while the hub runs."""
    app.cleanup_ctx.append(_insight_resources)
