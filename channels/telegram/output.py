"""Rasa output channels for Telegram: collect a turn's replies, or queue proactive ones.

Both are named "telegram", so responses with a `channel: telegram` variation are chosen.
Neither sends anything itself: replies reach Telegram only through the durable outbox.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Text

from rasa.core.channels.channel import CollectingOutputChannel

from channels.telegram.inbound import chat_id_of


class TelegramCollector(CollectingOutputChannel):
    """Collects one turn's replies; a text stays one message (split only past 4,096 chars)."""

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._persist_message(self._message(recipient_id, text=text.strip()))


class OutboxOutputChannel(TelegramCollector):
    """What Rasa's API uses for messages nobody asked for (`output_channel=telegram` or
    `latest`, e.g. a reminder or an external event): each message goes to the outbox."""

    def __init__(self, enqueue: Callable[[str, list[dict]], Awaitable[None]]) -> None:
        super().__init__()
        self._enqueue = enqueue

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        await super()._persist_message(message)
        recipient = chat_id_of(str(message.get("recipient_id")))  # `tg-<chat id>` → chat id
        await self._enqueue(recipient, [{k: v for k, v in message.items()
                                         if k != "recipient_id"}])
