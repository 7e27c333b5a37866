"""Kept for imports being moved: the sender protocol lives in `bot.channel_registry`."""

from bot.channel_registry import ChannelSender, DeliveryFailed

__all__ = ["ChannelSender", "DeliveryFailed"]
