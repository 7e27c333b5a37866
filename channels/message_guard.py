"""Checks on every inbound customer message, whatever the channel.

Rasa trusts its channels: any text starting with `/` becomes an intent at confidence 1.0
(`/EXTERNAL_handoff_resolved` would let a customer end their own handoff), a missing sender
lands in one shared "default" conversation, and a REST client may claim any input channel.
Channels call `check_message` first so none of that reaches Rasa.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

MAX_SENDER_CHARS = 128
_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)")
_SENDER = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")


class MessageRejected(ValueError):
    """The message cannot be accepted; `status` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def check_sender(sender: Any) -> str:
    if not isinstance(sender, str) or not _SENDER.match(sender):
        raise MessageRejected(
            "sender must be a string of 1-128 letters, digits or . _ : @ + - characters"
        )
    return sender


def _strip_control(text: str) -> str:
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
                   or unicodedata.category(ch) == "Cf")


def check_text(text: Any, max_chars: int, allowed_commands: Iterable[str]) -> str:
    """The text to hand to Rasa: cleaned, bounded, and only allowed `/intent` commands."""
    if not isinstance(text, str):
        raise MessageRejected("message must be a string")
    if len(text) > max_chars:
        raise MessageRejected(f"message is too long (at most {max_chars} characters)", 413)
    text = _strip_control(text).strip()
    if not text:
        raise MessageRejected("message is empty")
    command = _COMMAND.match(text)
    if command and command.group(1) not in set(allowed_commands):
        # Not a button we offered: read it as plain words, not as an intent.
        text = text[1:].strip() or text
    return text


def check_metadata(metadata: Any) -> Optional[dict]:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise MessageRejected("metadata must be an object")
    return metadata


@lru_cache(maxsize=4)
def button_intents(domain_path: Path) -> frozenset[str]:
    """Intents that the bot's own buttons send as `/intent` payloads (the only allowed ones)."""
    domain = yaml.safe_load(domain_path.read_text(encoding="utf-8")) or {}
    intents: set[str] = set()
    for variations in (domain.get("responses") or {}).values():
        for variation in variations or []:
            for button in (variation or {}).get("buttons") or []:
                match = _COMMAND.match(str(button.get("payload", "")))
                if match and not match.group(1).startswith("EXTERNAL_"):
                    intents.add(match.group(1))
    return frozenset(intents)
