"""Telegram's entry in Rapport's channel registry (`bot.channel_registry`)."""

from __future__ import annotations

from typing import Any

from bot.channel_registry import ChannelPlugin, ChannelSender
from bot.settings import Settings


def _make_sender(settings: Settings) -> ChannelSender:
    from channels.telegram.sender import TelegramSender  # python-telegram-bot on first use

    return TelegramSender.from_settings(settings)


def _add_commands(subparsers: Any) -> Any:
    from channels.telegram.cli import add_telegram_commands

    return add_telegram_commands(subparsers)


PLUGIN = ChannelPlugin(name="telegram", reaches=("telegram",), make_sender=_make_sender,
                       add_commands=_add_commands)
