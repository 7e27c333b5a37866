"""Telegram for Rapport: a Rasa input channel built for webhook at-least-once delivery, and
the sender the hub uses during a handoff.

- `TelegramInput` (channel.py): POST /webhooks/telegram/webhook; updates are stored first,
  answered 200, then processed by runtime.py's worker (worker.py, turns.py) and delivered
  through a durable outbox (delivery.py); polling.py replaces the webhook in development.
- `TelegramSender` (sender.py): delivers an agent's messages by chat id.

Exported lazily, so the hub can use the sender without importing Rasa.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TelegramInput", "TelegramSender"]


def __getattr__(name: str) -> Any:
    if name == "TelegramInput":
        from channels.telegram.channel import TelegramInput

        return TelegramInput
    if name == "TelegramSender":
        from channels.telegram.sender import TelegramSender

        return TelegramSender
    raise AttributeError(f"module 'channels.telegram' has no attribute {name!r}")
