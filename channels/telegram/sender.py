"""`TelegramSender`: how the hub reaches a Telegram customer while an agent handles them.

Same rendering as the bot's replies (long texts split, buttons as inline keyboards with long
payloads stored for the callback), the same Bot API client, and the same reading of 429:
wait `retry_after` and send once more. A failure it cannot wait out raises DeliveryFailed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from telegram.error import TelegramError

from bot.settings import Settings
from bot.channel_registry import DeliveryFailed
from channels.telegram.api import LATER, TRANSIENT, BotApi, classify_error, retry_delay
from channels.telegram.inbound import chat_id_of
from channels.telegram.rendering import ApiCall, render
from channels.telegram.store import StoreUnavailable, TelegramStore

logger = logging.getLogger(__name__)


class TelegramSender:
    """Delivers Rasa-format messages to a chat id (the conversation's Rasa sender id)."""

    def __init__(self, api: Optional[BotApi], store: TelegramStore, max_wait_s: float = 60.0,
                 attempts: int = 3, backoff_s: float = 1.0) -> None:
        self.api = api
        self.store = store
        self.max_wait_s = max_wait_s
        self.attempts = attempts
        self.backoff_s = backoff_s

    @classmethod
    def from_settings(cls, settings: Settings) -> "TelegramSender":
        api = BotApi.from_settings(settings) if settings.telegram_token else None
        return cls(api, TelegramStore(settings.telegram_db_url))

    async def send(self, recipient_id: str, messages: list[dict[str, Any]]) -> None:
        """Deliver to the chat of conversation `recipient_id` (`tg-<chat id>`)."""
        if self.api is None:
            raise DeliveryFailed("telegram is not configured (RAPPORT_TELEGRAM_TOKEN)")
        try:
            chat_id = chat_id_of(recipient_id)
        except ValueError as error:
            raise DeliveryFailed(str(error)) from error
        rendered = render(messages)
        if rendered.buttons:
            try:
                await self.store.save_buttons(rendered.buttons)
            except StoreUnavailable as error:
                raise DeliveryFailed(f"cannot store button payloads: {error}") from error
        for sent, call in enumerate(rendered.calls):
            try:
                await self._deliver(chat_id, call)
            except DeliveryFailed as failed:
                raise DeliveryFailed(f"{failed} ({sent} of {len(rendered.calls)} messages "
                                     "delivered)") from failed.__cause__

    async def _deliver(self, chat_id: str, call: ApiCall) -> None:
        assert self.api is not None
        waited, attempt = 0.0, 1
        while True:
            try:
                await self.api.call(chat_id, call)
                return
            except TelegramError as error:
                failure = classify_error(error)
                delay = retry_delay(failure, attempt, self.backoff_s)
                if failure.kind == LATER and waited + failure.wait <= self.max_wait_s:
                    logger.info("telegram: Bot API asked to wait %.0f s", failure.wait)
                    waited += failure.wait
                elif failure.kind == TRANSIENT and attempt < self.attempts:
                    attempt += 1
                else:
                    raise DeliveryFailed(f"telegram: {failure.reason}") from error
                await asyncio.sleep(delay)

    async def close(self) -> None:
        if self.api is not None:
            await self.api.close()
        await self.store.close()
