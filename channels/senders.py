"""How the hub reaches a customer in their own app while a person handles the conversation.

Each channel module provides a `ChannelSender`; `sender_for` picks the one for the channel a
conversation came in on. Messages use Rasa's response format ({"text": ..., "buttons": ...}).
"""

from __future__ import annotations

from typing import Any, Optional, Protocol

from bot.settings import Settings


class DeliveryFailed(RuntimeError):
    """The message could not be delivered now (the caller may retry or tell the agent)."""


class ChannelSender(Protocol):
    async def send(self, recipient_id: str, messages: list[dict[str, Any]]) -> None:
        """Deliver `messages` to the customer `recipient_id` (the Rasa sender id)."""

    async def close(self) -> None:
        """Release connections."""


def sender_for(channel: str, settings: Settings) -> Optional[ChannelSender]:
    """The sender for `channel`, or None when that channel cannot be reached from the hub."""
    if channel == "telegram":
        from channels.telegram import TelegramSender

        return TelegramSender.from_settings(settings)
    if channel in ("webchat", "rest"):
        from channels.webchat.outbox import OutboxSender

        return OutboxSender.from_settings(settings)
    return None
