"""Polling for development: fetch updates with getUpdates instead of receiving a webhook.

Each batch is stored before the next getUpdates confirms it (Telegram forgets updates below
the offset we ask for), so polling feeds the same durable store and worker as the webhook.
Only one process may poll a bot; Telegram answers 409 Conflict to a second one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable, Callable, Optional

from telegram.error import Conflict, TelegramError

from channels.telegram.api import LATER, BotApi, classify_error
from channels.telegram.inbound import HANDLED_UPDATES
from channels.telegram.store import StoreUnavailable

logger = logging.getLogger(__name__)

Receive = Callable[[dict], Awaitable[object]]


class Poller:
    """Long-polls getUpdates and hands each update to `receive` (the webhook's store path)."""

    def __init__(self, api: BotApi, receive: Receive, timeout_s: int = 25,
                 pause_s: float = 5.0) -> None:
        self.api = api
        self.receive = receive
        self.timeout_s = timeout_s
        self.pause_s = pause_s

    async def run(self) -> None:
        """Loop until cancelled."""
        while not await self._delete_webhook():
            await asyncio.sleep(self.pause_s)
        logger.info("telegram: polling for updates (development mode)")
        offset: Optional[int] = None
        while True:
            try:
                batch = await self.api.bot.get_updates(offset=offset, timeout=self.timeout_s,
                                                       allowed_updates=list(HANDLED_UPDATES))
            except Conflict:
                logger.error("telegram: another process is polling this bot, or a webhook is "
                             "set (`rapport telegram delete-webhook`); retrying")
                await asyncio.sleep(self.pause_s)
                continue
            except TelegramError as error:
                failure = classify_error(error)
                wait = failure.wait if failure.kind == LATER else self.pause_s
                logger.warning("telegram: getUpdates failed, retrying in %.0f s: %s",
                               wait, failure.reason)
                await asyncio.sleep(wait)
                continue
            for update in batch:
                await self._store(json.loads(update.to_json()))
                offset = update.update_id + 1

    async def _store(self, data: dict) -> None:
        """Store one update, waiting for the store if it is down (the offset waits too)."""
        while True:
            try:
                await self.receive(data)
                return
            except StoreUnavailable as error:
                logger.warning("telegram: store unavailable while polling, retrying: %s", error)
                await asyncio.sleep(self.pause_s)

    async def _delete_webhook(self) -> bool:
        try:
            await self.api.bot.delete_webhook(drop_pending_updates=False)
            return True
        except TelegramError as error:
            logger.warning("telegram: could not delete the webhook before polling: %s", error)
            return False
