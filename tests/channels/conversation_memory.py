"""Rasa's tracker store for the channels' scripted stand-ins for Rasa.

The message guard reads the buttons the bot last offered from Rasa's tracker store
(`app.ctx.agent.tracker_store`). The channel tests answer with scripted agents instead of a
model, so they keep a real `InMemoryTrackerStore` filled the way Rasa fills it: the
customer's message, then each reply the bot sent (buttons included).
"""

from __future__ import annotations

from typing import Any

from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered

from channels.turn_recovery import BOT_DATA_KEYS


class ConversationMemory:
    """A real in-memory tracker store and the one step Rasa takes per turn."""

    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())

    def is_ready(self) -> bool:  # what the Telegram runtime asks of an agent
        return True

    async def record(self, message: Any) -> None:
        """Store the turn: the user's message and the replies on its output channel."""
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel,
                                   message_id=message.message_id))
        for reply in getattr(message.output_channel, "messages", []):
            data = {key: reply[key] for key in BOT_DATA_KEYS if reply.get(key)}
            tracker.update(BotUttered(reply.get("text"), data=data))
        await self.tracker_store.save(tracker)

    async def offer(self, sender_id: str, *payloads: str) -> None:
        """Store a bot message offering buttons with these payloads (as if sent just now)."""
        tracker = await self.tracker_store.get_or_create_tracker(sender_id)
        tracker.update(BotUttered("Please choose:", data={"buttons": [
            {"title": payload, "payload": payload} for payload in payloads]}))
        await self.tracker_store.save(tracker)
