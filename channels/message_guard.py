"""Checks on every inbound customer message, whatever the channel.

Rasa trusts its channels: a missing sender lands in one shared "default" conversation, a REST
client may claim any input channel, and any text that Rasa reads as a command runs that
intent at confidence 1.0 (`/EXTERNAL_handoff_callback` would flip a customer's own case,
`/restart` would abandon a handoff). Channels call these checks first so none of that
reaches Rasa.

Commands: Rasa 3.6 strips the text (Python's `str.strip`, so also NBSP and other Unicode
spaces), and if it starts with `/` matches `/<intent>@<confidence>{entities}` where the
intent may have spaces around it (`YAMLStoryReader.unpack_regex_message`, run by the
`RegexMessageHandler` in every pipeline). `command_intent` applies that very rule. A command
passes only when it is, exactly, the payload of a button the bot offered in its last turn of
this conversation (read from Rasa's tracker: one source for every channel, including
messages the bot sent outside a request, e.g. the rating after a handoff), and never for
`EXTERNAL_*` or Rasa's default intents. Anything else becomes plain words (the leading
slashes dropped) that Rasa's NLU classifies like any other message: customers do type
"/help", and answering it beats refusing it.
"""

from __future__ import annotations

import unicodedata
import re
from typing import Any, Collection, Iterable, Optional

from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.core.constants import DEFAULT_INTENTS
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import INTENT_NAME_KEY

MAX_SENDER_CHARS = 128
_SENDER = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")
_CONVERSATION = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,200}$")  # a sender with its channel prefix
_RASA_COMMAND = YAMLStoryReader._regex_message_pattern()  # Rasa's own rule, not a copy
_BUTTON_KEYS = ("buttons", "quick_replies")


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


def check_conversation_id(conversation_id: Any) -> str:
    """A Rasa conversation id as the channels make them (a sender id with a channel prefix)."""
    if not isinstance(conversation_id, str) or not _CONVERSATION.match(conversation_id):
        raise MessageRejected("not a conversation id")
    return conversation_id


def _strip_control(text: str) -> str:
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
                   or unicodedata.category(ch) == "Cf")


def check_text(text: Any, max_chars: int) -> str:
    """The text cleaned (control characters dropped, stripped) and bounded; commands are
    decided by `guard_command`."""
    if not isinstance(text, str):
        raise MessageRejected("message must be a string")
    if len(text) > max_chars:
        raise MessageRejected(f"message is too long (at most {max_chars} characters)", 413)
    text = _strip_control(text).strip()
    if not text:
        raise MessageRejected("message is empty")
    return text


def command_intent(text: str) -> Optional[str]:
    """The intent Rasa would run if it got `text`, or None when Rasa reads it as words.

    Any intent name counts, known to the domain or not (the model's domain may differ)."""
    stripped = text.strip()  # UserMessage and unpack_regex_message both strip
    if not stripped.startswith(INTENT_MESSAGE_PREFIX):
        return None
    match = _RASA_COMMAND.match(stripped)
    return None if match is None else match.group(INTENT_NAME_KEY).strip()


def never_from_customers(intent: str) -> bool:
    """Intents only Rapport itself may trigger (the hub's `EXTERNAL_*`, Rasa's defaults)."""
    return intent.startswith("EXTERNAL_") or intent in DEFAULT_INTENTS


def as_words(text: str) -> str:
    """`text` as something Rasa cannot read as a command: its leading slashes dropped."""
    while command_intent(text) is not None:
        text = text.strip()[len(INTENT_MESSAGE_PREFIX):]
    return text.strip()


def guard_command(text: str, offered: Collection[str]) -> str:
    """`text` unchanged if it is not a command, or is exactly a button payload the bot
    offered (and not an internal intent); otherwise the same text as plain words."""
    intent = command_intent(text)
    if intent is None:
        return text
    if text.strip() in offered and not never_from_customers(intent):
        return text
    return as_words(text)


def offered_payloads(events: Iterable[Any]) -> frozenset[str]:
    """Payloads of the buttons in the bot's messages since the customer last spoke."""
    payloads: set[str] = set()
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            for key in _BUTTON_KEYS:
                for button in (event.data or {}).get(key) or ():
                    if isinstance(button, dict) and button.get("payload"):
                        payloads.add(str(button["payload"]).strip())
    return frozenset(payloads)


async def offered_in(tracker_store: Any, conversation_id: str) -> frozenset[str]:
    """The button payloads the bot offered last in `conversation_id` (Rasa's tracker)."""
    if tracker_store is None:
        return frozenset()
    tracker = await tracker_store.retrieve(conversation_id)
    return offered_payloads(tracker.events) if tracker is not None else frozenset()


async def check_command(text: str, conversation_id: str, tracker_store: Any) -> str:
    """`guard_command` with the buttons read from the tracker, only when `text` needs it."""
    if command_intent(text) is None:
        return text
    return guard_command(text, await offered_in(tracker_store, conversation_id))
