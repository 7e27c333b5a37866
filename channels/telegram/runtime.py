"""The Telegram channel's machinery in one process: store, Bot API, worker, outbox, polling.

`receive` is the only thing the webhook (or the poller) does with an update: store it and
wake the worker. Everything that talks to Rasa or to Telegram happens in the background
tasks that `start` launches and `stop` ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import telegram

from bot.settings import Settings
from channels.telegram.api import BotApi
from channels.telegram.inbound import chat_of
from channels.leases import new_owner
from channels.telegram.delivery import OutboxDelivery, OutboxTuning
from channels.telegram.polling import Poller
from channels.telegram.rendering import render
from channels.telegram.store import IGNORED, RECEIVED, TelegramStore
from channels.telegram.turns import Handler, TurnRunner
from channels.telegram.worker import UpdateWorker, WorkerTuning

logger = logging.getLogger(__name__)

STORED, DUPLICATE, UNREADABLE = "stored", "duplicate", "unreadable"
DAY_S = 86400.0


@dataclass(frozen=True)
class Tuning:
    """Timings and limits (defaults for production; tests shorten some)."""

    worker: WorkerTuning = field(default_factory=WorkerTuning)
    outbox: OutboxTuning = field(default_factory=OutboxTuning)
    store_timeout_s: float = 5.0  # storing an update takes longer: the webhook answers 503
    max_body_bytes: int = 256 * 1024  # real updates are a few kB
    poll_timeout_s: int = 25
    keep_days: float = 7.0  # finished updates (to spot re-sends) and sent rows; Telegram: 24 h
    keep_button_days: float = 30.0
    upkeep_every_s: float = 3600.0


class TelegramRuntime:
    """Owns the channel's resources and background tasks in this process."""

    def __init__(self, settings: Settings, handler: Handler, tuning: Tuning = Tuning()) -> None:
        self.settings = settings
        self.tuning = tuning
        self.owner = new_owner()
        self.store = TelegramStore(settings.telegram_db_url, tuning.store_timeout_s)
        self.api = BotApi.from_settings(settings)
        self.turns = TurnRunner(settings, self.store, self.api, handler,
                                tracker_store=self._tracker_store)
        self.outbox = OutboxDelivery(self.store, self.api, self.owner, tuning.outbox)
        self.worker = UpdateWorker(self.store, self.turns.run, self.owner, tuning.worker,
                                   on_queued=self.outbox.wake, ready=self._agent_ready)
        self._app: Any = None
        self._tasks: list[asyncio.Task] = []
        self._start_lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    async def start(self, app: Any = None) -> None:
        """Start the background tasks (idempotent); they resume whatever was left unfinished."""
        async with self._start_lock:
            if self._tasks:
                return
            self._app = app
            jobs = [self.worker.run(), self.outbox.run(), self._upkeep()]
            if self.settings.telegram_polling:
                jobs.append(Poller(self.api, self.receive, self.tuning.poll_timeout_s).run())
            self._tasks = [asyncio.create_task(job) for job in jobs]
            logger.info("telegram: channel started (%s)",
                        "polling" if self.settings.telegram_polling else "webhook")

    async def stop(self, timeout: float = 10.0) -> None:
        """Cancel the background tasks (unfinished work resumes at the next start)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=timeout)
            if stuck:
                logger.warning("telegram: %s background tasks did not stop in time", len(stuck))
        self._tasks = []
        try:
            await asyncio.wait_for(self.api.close(), timeout)
        except asyncio.TimeoutError:
            logger.warning("telegram: the Bot API connections did not close in time")
        await self.store.close()

    async def receive(self, data: dict[str, Any]) -> str:
        """Store one update (raises StoreUnavailable); STORED, DUPLICATE or UNREADABLE."""
        update_id = data["update_id"]
        payload = json.dumps(data, ensure_ascii=False)
        try:
            chat_id = chat_of(telegram.Update.de_json(data, None))
        except Exception as error:  # noqa: BLE001 (whatever PTB makes of a malformed update)
            logger.warning("telegram: update %s cannot be read; dead-lettered: %s",
                           update_id, error)
            await self.store.receive_unreadable(update_id, payload, f"unreadable: {error!r}")
            return UNREADABLE
        state = RECEIVED if chat_id else IGNORED
        if not await self.store.receive(update_id, chat_id, payload, state):
            logger.info("telegram: update %s received again; already stored", update_id)
            return DUPLICATE
        if chat_id:
            self.worker.wake()
        return STORED

    async def enqueue(self, chat_id: str, messages: list[dict[str, Any]]) -> None:
        """Queue messages for a chat outside any update (Rasa's proactive messages)."""
        await self.store.enqueue(chat_id, render(messages))
        self.outbox.wake()

    def _agent(self) -> Optional[Any]:
        return getattr(getattr(self._app, "ctx", None), "agent", None)

    def _agent_ready(self) -> bool:
        agent = self._agent()
        return agent is None or bool(agent.is_ready())

    def _tracker_store(self) -> Optional[Any]:
        return getattr(self._agent(), "tracker_store", None)

    async def _upkeep(self) -> None:
        while True:
            now = time.time()
            try:
                removed = await self.store.purge(now - self.tuning.keep_days * DAY_S,
                                                 now - self.tuning.keep_button_days * DAY_S)
                if removed:
                    logger.info("telegram: forgot %s old updates, messages and buttons", removed)
            except Exception as error:  # noqa: BLE001 (upkeep must not stop the channel)
                logger.warning("telegram: upkeep failed: %s", error)
            await asyncio.sleep(self.tuning.upkeep_every_s)
