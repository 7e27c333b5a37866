"""One stored update, carried out: answer the button, show "typing…", run the Rasa turn.

`TurnRunner.run` returns the replies (Rasa's message format) and never sends them: the
worker queues them in the same transaction that marks the update answered. Running an
update again after a crash first looks for the turn in Rasa's tracker (by the message id
`telegram-<update_id>`), so a turn Rasa finished is not run twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Optional

import telegram
from rasa.core.channels.channel import UserMessage

from channels.message_guard import MessageRejected, check_command, check_text
from channels.rate_limit import FLOOD_REPLY, flood_limiter
from bot.settings import Settings
from channels.telegram.api import BotApi
from channels.telegram.inbound import (
    BUTTON_EXPIRED, BotIdentity, Ignore, Reply, RasaTurn, conversation_id_for, read_update,
)
from channels.telegram.output import TelegramCollector
from channels.telegram.store import StoredUpdate, TelegramStore
from channels.turn_recovery import replies_in_tracker

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
TYPING_EVERY_S = 4.5  # Telegram shows "typing…" for 5 s
TOO_LONG = "That's a long message! Could you send it in shorter parts?"
NO_WORDS = "I couldn't find any words in that message. Could you type it again?"

Handler = Callable[[UserMessage], Awaitable[Any]]


def message_id_of(update_id: int) -> str:
    return f"telegram-{update_id}"


class TurnRunner:
    """Turns a stored update into the replies to queue for its chat."""

    def __init__(self, settings: Settings, store: TelegramStore, api: BotApi, handler: Handler,
                 tracker_store: Callable[[], Any] = lambda: None) -> None:
        self.settings = settings
        self.store = store
        self.api = api
        self.handler = handler
        self.tracker_store = tracker_store
        self.flood = flood_limiter(settings)

    async def run(self, stored: StoredUpdate) -> list[dict[str, Any]]:
        update = telegram.Update.de_json(json.loads(stored.payload), None)
        me = await self.api.me()
        inbound = read_update(update, BotIdentity(me.id, me.username or ""))
        if inbound.callback_query_id:
            await self.api.answer_callback(inbound.callback_query_id)
        if isinstance(inbound, Ignore):
            logger.debug("telegram: update %s ignored: %s", stored.update_id, inbound.reason)
            return []
        if isinstance(inbound, Reply):
            return [{"text": inbound.text}]
        return await self._turn(stored, inbound)

    async def _turn(self, stored: StoredUpdate, turn: RasaTurn) -> list[dict[str, Any]]:
        chat_id = str(stored.chat_id)
        conversation_id = conversation_id_for(chat_id)  # Rasa's sender id: `tg-<chat id>`
        verdict = self.flood.take(conversation_id)
        if not verdict.allowed:  # say so once, then drop the flood until the bucket refills
            return [{"text": FLOOD_REPLY}] if verdict.first_refusal else []
        if turn.keyboard_message_id is not None:
            await self.api.remove_keyboard(chat_id, turn.keyboard_message_id)
        text: Optional[str] = turn.text
        if turn.button_token:
            text = await self.store.button_payload(turn.button_token)
            if text is None:
                return [{"text": BUTTON_EXPIRED}]
        if not turn.trusted:
            try:
                text = check_text(text, self.settings.max_message_chars)
            except MessageRejected as rejected:
                return [{"text": TOO_LONG if rejected.status == 413 else NO_WORDS}]
            guarded = await check_command(text, conversation_id, self.tracker_store())
            if guarded != text and turn.callback_query_id:
                return [{"text": BUTTON_EXPIRED}]  # a keyboard from an earlier turn (or forged)
            text = guarded
        message_id = message_id_of(stored.update_id)
        if stored.attempts > 1:
            recovered = await replies_in_tracker(self.tracker_store(), conversation_id,
                                                 message_id)
            if recovered is not None:
                logger.info("telegram: update %s: Rasa had finished the turn; replies recovered",
                            stored.update_id)
                return recovered
        collector = TelegramCollector()
        typing = asyncio.create_task(self._keep_typing(chat_id))
        try:
            await self.handler(UserMessage(text, collector, conversation_id, input_channel=CHANNEL,
                                           message_id=message_id, metadata=turn.metadata))
        finally:
            typing.cancel()
        return [{k: v for k, v in message.items() if k != "recipient_id"}
                for message in collector.messages]

    async def _keep_typing(self, chat_id: str) -> None:
        while True:
            await self.api.typing(chat_id)
            await asyncio.sleep(TYPING_EVERY_S)
