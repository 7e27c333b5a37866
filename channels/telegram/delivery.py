"""Delivers the outbox: each chat's rows in order, each row once, surviving 429s and restarts.

A row is claimed (compare-and-swap on its version) before its Bot API call and marked sent
right after. Telegram's 429 `retry_after` postpones the row without counting an attempt;
network failures are retried with backoff up to `max_attempts`; a refusal (bad request, bot
blocked by the user) marks the row failed and the chat's next row goes out.

The one window left: a crash after Telegram accepted a message and before the row is marked
sent. The row is then sent again on restart, so the customer sees that message twice. (The
same happens when a request times out after Telegram received it: we cannot tell, and
would rather repeat a message than lose one.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from telegram.error import TelegramError

from channels.telegram.api import LATER, BotApi, classify_error, retry_delay
from channels.telegram.store import OutboxRow, StoreUnavailable, TelegramStore
from channels.telegram.wakeup import ChatLoop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxTuning:
    lease_s: float = 60.0  # a claimed row is someone else's for this long
    poll_s: float = 0.5
    max_attempts: int = 8
    backoff_s: float = 1.0  # doubles per failed attempt, at most `max_backoff_s`
    max_backoff_s: float = 120.0


class OutboxDelivery(ChatLoop):
    """Sends pending outbox rows; any number of processes may share one store."""

    def __init__(self, store: TelegramStore, api: BotApi, owner: str,
                 tuning: OutboxTuning = OutboxTuning()) -> None:
        super().__init__(tuning.poll_s)
        self.store = store
        self.api = api
        self.owner = owner
        self.tuning = tuning

    async def _tick(self) -> None:
        try:
            chat_ids = await self.store.outbox_chats(time.time())
        except StoreUnavailable as error:
            logger.warning("telegram: cannot read the outbox: %s", error)
            return
        for chat_id in chat_ids:
            if chat_id not in self._chats:
                self._chats.start(chat_id, self._deliver_chat(chat_id))

    async def _deliver_chat(self, chat_id: str) -> None:
        try:
            while True:
                row = await self.store.claim_outbox_head(chat_id, self.owner,
                                                         self.tuning.lease_s, time.time())
                if row is None or not await self._deliver(row):
                    return
        except StoreUnavailable as error:
            logger.warning("telegram: outbox of chat %s paused: %s", chat_id, error)
        except Exception:  # noqa: BLE001 (a bug here must not stop the other chats)
            logger.exception("telegram: outbox of chat %s paused by an unexpected error", chat_id)

    async def _deliver(self, row: OutboxRow) -> bool:
        """Send one row; True if the chat's next row may follow now."""
        try:
            await self.api.call(row.chat_id, row.call)
        except TelegramError as error:
            failure = classify_error(error)
            attempt = row.attempts + 1
            delay = retry_delay(failure, attempt, self.tuning.backoff_s,
                                self.tuning.max_backoff_s)
            if failure.kind == LATER:
                logger.info("telegram: Bot API asked to wait %.0f s (chat %s)",
                            failure.wait, row.chat_id)
            elif delay is None or attempt >= self.tuning.max_attempts:
                logger.error("telegram: giving up on a %s to chat %s: %s",
                             row.call.method, row.chat_id, failure.reason)
                await self.store.outbox_failed(row.id, failure.reason)
                return True
            else:
                logger.warning("telegram: %s to chat %s failed, retrying in %.0f s: %s",
                               row.call.method, row.chat_id, delay, failure.reason)
            await self.store.outbox_retry(row.id, time.time() + delay, failure.reason,
                                          attempt=failure.kind != LATER)
            return False
        await self._mark_sent(row)
        return True

    async def _mark_sent(self, row: OutboxRow) -> None:
        """Keep trying while the lease lasts: a row sent but not marked would go out again."""
        deadline = time.time() + self.tuning.lease_s
        while True:
            try:
                await self.store.outbox_sent(row.id)
                return
            except StoreUnavailable as error:
                if time.time() > deadline:
                    raise
                logger.warning("telegram: cannot mark a message sent yet: %s", error)
                await asyncio.sleep(1.0)
