"""Works through stored updates: per chat one at a time in update_id order, chats in parallel.

A process takes a chat by claiming its lease in the database (so two processes never work on
one chat), renews the lease while a turn runs, and processes the chat's updates oldest first.
An update's replies are queued in the transaction that marks it answered. An update whose
processing raises is tried again after a pause; after `max_attempts` it goes to the dead
letters (with a short apology to the customer) and the chat moves on. An outage of the store
or the Bot API is not the update's fault: it waits without using up its attempts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from telegram.error import TelegramError

from channels.telegram.api import PERMANENT, classify_error
from channels.telegram.rendering import Rendered, render
from channels.telegram.store import StoredUpdate, StoreUnavailable, TelegramStore
from channels.telegram.wakeup import ChatLoop

logger = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong with that message on my side. Could you send it again?"

Process = Callable[[StoredUpdate], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class WorkerTuning:
    lease_s: float = 30.0  # a chat's lease; renewed every third of it while a turn runs
    poll_s: float = 0.5  # how often to look for work nobody woke us for
    max_attempts: int = 3
    retry_delays_s: tuple[float, ...] = (1.0, 5.0)
    # Telegram numbers a bot's updates consecutively. While an update id between the chat's
    # last finished update and this one is missing, an earlier update of the chat may still
    # be on its way: wait until this one is `settle_s` old before processing it.
    settle_s: float = 0.5


def is_outage(error: Exception) -> bool:
    """The store or the Bot API failing (network, 5xx, 429, bad token), not the update."""
    if isinstance(error, StoreUnavailable):
        return True
    return isinstance(error, TelegramError) and classify_error(error).kind != PERMANENT


class UpdateWorker(ChatLoop):
    """Claims chats with due updates and processes them; any number may share one store."""

    def __init__(self, store: TelegramStore, process: Process, owner: str,
                 tuning: WorkerTuning = WorkerTuning(),
                 on_queued: Callable[[], None] = lambda: None,
                 ready: Callable[[], bool] = lambda: True) -> None:
        super().__init__(tuning.poll_s)
        self.store = store
        self.process = process
        self.owner = owner
        self.tuning = tuning
        self.on_queued = on_queued
        self.ready = ready

    async def _tick(self) -> None:
        if not self.ready():
            return
        now = time.time()
        try:
            chat_ids = await self.store.chats_with_work(now)
            for chat_id in chat_ids:
                if chat_id in self._chats:
                    continue
                if await self.store.claim_chat(chat_id, self.owner, self.tuning.lease_s, now):
                    self._chats.start(chat_id, self._work_on(chat_id))
        except StoreUnavailable as error:
            logger.warning("telegram: cannot look for updates to process: %s", error)

    async def _work_on(self, chat_id: str) -> None:
        heartbeat = asyncio.create_task(self._renew(chat_id))
        try:
            while True:
                stored = await self.store.next_update(chat_id)
                if stored is None or stored.not_before > time.time():
                    break
                if not await self._settled(stored):
                    continue
                await self._handle(stored)
        except StoreUnavailable as error:
            logger.warning("telegram: chat %s paused: %s", chat_id, error)
        except Exception:  # noqa: BLE001 (a bug here must not stop the other chats)
            logger.exception("telegram: chat %s paused by an unexpected error", chat_id)
        finally:
            heartbeat.cancel()
            try:
                await self.store.release_chat(chat_id, self.owner)
            except StoreUnavailable:
                logger.info("telegram: chat %s not released; its lease expires by itself", chat_id)

    async def _settled(self, stored: StoredUpdate) -> bool:
        """False while an earlier update of the chat may still be arriving (after a pause)."""
        waited = time.time() - stored.received_at
        if waited >= self.tuning.settle_s:
            return True
        if await self.store.nothing_missing_before(str(stored.chat_id), stored.update_id):
            # every update since the chat's last one is here; make sure none of them just
            # became this chat's head
            head = await self.store.next_update(str(stored.chat_id))
            return head is not None and head.update_id == stored.update_id
        await asyncio.sleep(self.tuning.settle_s - waited)
        return False

    async def _renew(self, chat_id: str) -> None:
        while True:
            await asyncio.sleep(self.tuning.lease_s / 3)
            try:
                if not await self.store.renew_chat(chat_id, self.owner,
                                                   time.time() + self.tuning.lease_s):
                    logger.warning("telegram: lost the lease on chat %s", chat_id)
            except StoreUnavailable as error:
                logger.warning("telegram: cannot renew the lease on chat %s: %s", chat_id, error)

    async def _handle(self, stored: StoredUpdate) -> None:
        attempt = await self.store.begin_attempt(stored.update_id)
        stored = StoredUpdate(stored.update_id, stored.chat_id, stored.payload, attempt,
                              stored.not_before, stored.received_at)
        if attempt > self.tuning.max_attempts:
            await self._give_up(stored, f"gave up after {attempt - 1} attempts that did not "
                                        "finish (the process stopped while handling it)")
            return
        try:
            replies = await self.process(stored)
            rendered = render(replies)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 (any failure of one update: retry or dead letter)
            if is_outage(error):
                await self._wait_for_outage(stored, error)
            else:
                await self._failed(stored, attempt, error)
            return
        if await self.store.answer(stored.update_id, str(stored.chat_id), self.owner, rendered):
            self.on_queued()
        else:
            logger.warning("telegram: update %s was answered by another process; replies dropped",
                           stored.update_id)

    async def _wait_for_outage(self, stored: StoredUpdate, error: Exception) -> None:
        """Our store or the Bot API is down: not the update's fault, so no attempt counts."""
        delay = self.tuning.retry_delays_s[-1] if self.tuning.retry_delays_s else 5.0
        logger.warning("telegram: update %s waits %.1f s for an outage: %s", stored.update_id,
                       delay, error)
        await self.store.retry_later(stored.update_id, str(error), time.time() + delay,
                                     refund_attempt=True)

    async def _failed(self, stored: StoredUpdate, attempt: int, error: Exception) -> None:
        """Processing raised: try again after a pause, or dead-letter after the last attempt."""
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        if attempt >= self.tuning.max_attempts:
            logger.error("telegram: update %s failed %s times; dead-lettered", stored.update_id,
                         attempt, exc_info=error)
            await self._give_up(stored, detail)
            return
        delays = self.tuning.retry_delays_s or (1.0,)
        delay = delays[min(attempt - 1, len(delays) - 1)]
        logger.warning("telegram: update %s failed (attempt %s), retrying in %.1f s: %s",
                       stored.update_id, attempt, delay, detail)
        await self.store.retry_later(stored.update_id, detail, time.time() + delay)

    async def _give_up(self, stored: StoredUpdate, error: str) -> None:
        apology: Optional[Rendered] = render([{"text": APOLOGY}]) if stored.chat_id else None
        await self.store.dead_letter(stored, error, apology)
        self.on_queued()
