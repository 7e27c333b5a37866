"""The web chat's entry in Rapport's channel registry (`bot.channel_registry`).

Its sender also holds agent messages for REST customers: Rasa's REST channel only answers
requests, so those wait in the web chat's message table for the integration to collect.
"""

from __future__ import annotations

from bot.channel_registry import ChannelPlugin, ChannelSender
from bot.settings import Settings
from channels.webchat import STATIC_DIR


def _make_sender(settings: Settings) -> ChannelSender:
    from channels.webchat.sender import WebChatSender

    return WebChatSender.from_settings(settings)


PLUGIN = ChannelPlugin(name="webchat", reaches=("webchat", "rest"), make_sender=_make_sender,
                       static_dir=STATIC_DIR)
