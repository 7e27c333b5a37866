"""The web chat: an embeddable widget (static/), its Rasa channel and the hub's sender.

`WebChatInput` (channel.py) is the Rasa input channel; `WebChatSender` (sender.py) is what the
hub uses to deliver an agent's messages, through the store (store.py, tables.py). The channel
is imported on first use only, so the hub can use the sender without importing Rasa.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).parent / "static"

__all__ = ["STATIC_DIR", "WebChatInput", "WebChatSender"]


def __getattr__(name: str) -> Any:
    if name == "WebChatInput":
        from channels.webchat.channel import WebChatInput

        return WebChatInput
    if name == "WebChatSender":
        from channels.webchat.sender import WebChatSender

        return WebChatSender
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
